public import MeshModel

/// Field ownership for server-side apply, as Kubernetes keeps it in `metadata.managedFields`:
/// which manager last set which field. Maps are granular and lists atomic (what every custom
/// resource without list-type markers gets). The Kubernetes front end calls it; the rules are here.
public enum FieldOwnership {
    /// A field an applier would take from another manager that set it to another value.
    public struct Conflict: Error, Sendable {
        /// The manager that owns the field.
        public var manager: String
        /// The field, as `.spec.hostname`.
        public var field: String
    }

    /// The conflicts of one apply (thrown together).
    public struct Conflicts: Error, Sendable {
        public var conflicts: [Conflict]
    }

    /// One `managedFields` entry.
    struct Entry {
        var manager: String
        var operation: String
        var apiVersion: String
        var time: String
        var fields: Set<[String]>
    }

    /// Server-side apply by `manager`: conflicts with other managers' fields set to other values
    /// (unless `force`, which takes them over); fields this manager applied before and omits now
    /// are removed unless another manager owns them. Returns the new object with its managedFields.
    public static func apply(
        _ applied: JSONValue, to current: JSONValue, manager: String, force: Bool, apiVersion: String, time: String
    ) throws(Conflicts) -> JSONValue {
        let appliedFields = leaves(applied)
        var entries = self.entries(of: current)
        var conflicts: [Conflict] = []
        for entry in entries where entry.manager != manager {
            for path in entry.fields.intersection(appliedFields).sorted(by: { $0.lexicographicallyPrecedes($1) })
            where value(current, path) != value(applied, path) {
                conflicts.append(Conflict(manager: entry.manager, field: "." + path.joined(separator: ".")))
            }
        }
        if !conflicts.isEmpty && !force { throw Conflicts(conflicts: conflicts) }
        let previous = entries.first { $0.manager == manager && $0.operation == "Apply" }?.fields ?? []
        let ownedByOthers = entries.filter { $0.manager != manager }.reduce(into: Set<[String]>()) {
            $0.formUnion($1.fields)
        }
        var result = current
        for path in previous.subtracting(appliedFields).subtracting(ownedByOthers) { result = removing(result, path) }
        for path in appliedFields { result = setting(result, path, value(applied, path) ?? .null) }
        let taken = Set(conflicts.map { $0.field })
        for index in entries.indices where entries[index].manager != manager {
            entries[index].fields = entries[index].fields.filter { !taken.contains("." + $0.joined(separator: ".")) }
        }
        entries.removeAll { $0.manager == manager && $0.operation == "Apply" }
        entries.append(
            Entry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: time, fields: appliedFields))
        return withEntries(result, entries)
    }

    /// An ordinary write (create, update, patch) by `manager`: every field it changed is now its.
    public static func update(
        from before: JSONValue?, to after: JSONValue, manager: String, apiVersion: String, time: String
    ) -> JSONValue {
        var entries = before.map(self.entries) ?? []
        let oldFields = before.map(leaves) ?? []
        let newFields = leaves(after)
        let changed = newFields.filter { path in before.map { value($0, path) != value(after, path) } ?? true }
            .union(oldFields.subtracting(newFields))
        guard !changed.isEmpty else { return withEntries(after, entries) }
        for index in entries.indices { entries[index].fields.subtract(changed) }
        let mine = (entries.first { $0.manager == manager && $0.operation == "Update" }?.fields ?? [])
            .union(changed.intersection(newFields))
        entries.removeAll { $0.manager == manager && $0.operation == "Update" }
        entries.append(Entry(manager: manager, operation: "Update", apiVersion: apiVersion, time: time, fields: mine))
        return withEntries(after, entries)
    }

    /// The managed leaves of an object: everything under its top-level fields but `apiVersion`,
    /// `kind`, `metadata` and `status`, plus each label and annotation.
    static func leaves(_ object: JSONValue) -> Set<[String]> {
        var result = Set<[String]>()
        func walk(_ value: JSONValue, _ path: [String]) {
            if case .object(let members) = value, members.count > 0 {
                for member in members { walk(member.value, path + [member.key]) }
            } else {
                result.insert(path)
            }
        }
        for member in object.objectValue ?? JSONObject()
        where !["apiVersion", "kind", "metadata", "status"].contains(member.key) {
            walk(member.value, [member.key])
        }
        for field in ["labels", "annotations"] {
            for member in object[path: ["metadata", field]]?.objectValue ?? JSONObject() {
                result.insert(["metadata", field, member.key])
            }
        }
        return result
    }

    static func value(_ object: JSONValue, _ path: [String]) -> JSONValue? { object[path: path] }

    static func setting(_ object: JSONValue, _ path: [String], _ value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        var members = object.objectValue ?? JSONObject()
        members[first] = setting(members[first] ?? .object(JSONObject()), Array(path.dropFirst()), value)
        return .object(members)
    }

    static func removing(_ object: JSONValue, _ path: [String]) -> JSONValue {
        guard let first = path.first, var members = object.objectValue else { return object }
        if path.count == 1 {
            members[first] = nil
        } else if let child = members[first] {
            let rest = removing(child, Array(path.dropFirst()))
            members[first] = rest.objectValue?.count == 0 ? nil : rest
        }
        return .object(members)
    }

    static func entries(of object: JSONValue) -> [Entry] {
        (object[path: ["metadata", "managedFields"]]?.arrayValue ?? []).compactMap { entry in
            guard let manager = entry["manager"]?.stringValue else { return nil }
            return Entry(
                manager: manager, operation: entry["operation"]?.stringValue ?? "Update",
                apiVersion: entry["apiVersion"]?.stringValue ?? "", time: entry["time"]?.stringValue ?? "",
                fields: paths(entry["fieldsV1"] ?? .null, []))
        }
    }

    /// `{"f:spec": {"f:hostname": {}}}` to paths.
    static func paths(_ fields: JSONValue, _ prefix: [String]) -> Set<[String]> {
        guard case .object(let members) = fields, members.count > 0 else { return prefix.isEmpty ? [] : [prefix] }
        var result = Set<[String]>()
        for member in members where member.key.hasPrefix("f:") {
            result.formUnion(paths(member.value, prefix + [String(member.key.dropFirst(2))]))
        }
        return result.isEmpty && !prefix.isEmpty ? [prefix] : result
    }

    static func fieldsV1(_ paths: Set<[String]>) -> JSONValue {
        var root = JSONValue.object(JSONObject())
        for path in paths { root = setting(root, path.map { "f:" + $0 }, .object(JSONObject())) }
        return root
    }

    static func withEntries(_ object: JSONValue, _ entries: [Entry]) -> JSONValue {
        let list = entries.filter { !$0.fields.isEmpty }.map { entry -> JSONValue in
            [
                "manager": .string(entry.manager), "operation": .string(entry.operation),
                "apiVersion": .string(entry.apiVersion), "time": .string(entry.time), "fieldsType": "FieldsV1",
                "fieldsV1": fieldsV1(entry.fields),
            ]
        }
        return setting(object, ["metadata", "managedFields"], .array(list))
    }
}
