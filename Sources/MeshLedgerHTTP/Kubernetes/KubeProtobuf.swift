import Foundation
import MeshModel

/// The protobuf encoding kubectl sends built-in kinds in (`application/vnd.kubernetes.protobuf`:
/// the magic `k8s\0`, then a `runtime.Unknown` whose `raw` field holds the object), read into the
/// JSON shape of the same object: the access and identity reviews (the fields the reviews read:
/// `spec.resourceAttributes`, `spec.nonResourceAttributes` and `spec.namespace`), ConfigMaps,
/// Leases and DeleteOptions (`object`). Every length is checked against what is left; anything malformed is nil.
/// The answer is JSON (kubectl accepts it: it asks for protobuf or JSON).
enum KubeProtobuf {
    /// The `runtime.Unknown` envelope: the object's kind and its message.
    static func envelope(_ bytes: [UInt8]) -> (apiVersion: String, kind: String, raw: ArraySlice<UInt8>)? {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("k8s\u{0}".utf8), let unknown = fields(bytes[4...]),
            let raw = unknown[2]?.first
        else { return nil }
        let typeMeta = unknown[1]?.first.flatMap { strings($0) }
        return (typeMeta?[1] ?? "", typeMeta?[2] ?? "", raw)
    }

    /// A ConfigMap, a Lease or DeleteOptions in `bytes` as JSON, or nil when it is not one or does
    /// not read.
    static func object(_ bytes: [UInt8]) -> JSONValue? {
        guard let (apiVersion, kind, raw) = envelope(bytes), let message = fields(raw),
            let scalars = varints(raw)
        else { return nil }
        var object: JSONObject = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        if let metadata = message[1]?.last {
            guard let read = objectMeta(metadata) else { return nil }
            object["metadata"] = .object(read)
        }
        switch (apiVersion, kind) {
        case ("v1", "ConfigMap"):
            for (number, name) in [(2, "data"), (3, "binaryData")] {
                guard let entries = message[number] else { continue }
                var map = JSONObject()
                for entry in entries {
                    guard let pair = fields(entry) else { return nil }
                    let key = pair[1]?.last.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
                    let value = pair[2]?.last ?? []
                    if number == 2 {
                        guard let text = String(validating: value, as: UTF8.self) else { return nil }
                        map[key] = .string(text)
                    } else {
                        map[key] = .string(Data(value).base64EncodedString())
                    }
                }
                object[name] = .object(map)
            }
            if let immutable = scalars[4] { object["immutable"] = .bool(immutable != 0) }
        case ("coordination.k8s.io/v1", "Lease"):
            guard let specBytes = message[2]?.last else { break }
            guard let spec = fields(specBytes), let numbers = varints(specBytes) else { return nil }
            guard var read = texts(spec, [(1, "holderIdentity"), (6, "strategy"), (7, "preferredHolder")]) else {
                return nil
            }
            for (number, name) in [(2, "leaseDurationSeconds"), (5, "leaseTransitions")] {
                if let value = numbers[number] { read[name] = .int(Int64(Int32(truncatingIfNeeded: value))) }
            }
            for (number, name) in [(3, "acquireTime"), (4, "renewTime")] {
                guard let time = spec[number]?.last else { continue }
                guard let parts = varints(time) else { return nil }
                let seconds = Int64(bitPattern: parts[1] ?? 0)
                let nanos = Int64(Int32(truncatingIfNeeded: parts[2] ?? 0))
                guard (-62_135_596_800...253_402_300_799).contains(seconds), (0..<1_000_000_000).contains(nanos)
                else { return nil }
                read[name] = .string(RFC3339.format(Timestamp(microseconds: seconds * 1_000_000 + nanos / 1000)))
            }
            object["spec"] = .object(read)
        case (_, "DeleteOptions"):
            // preconditions (2: uid 1, resourceVersion 2), propagationPolicy (4), dryRun (5).
            if let preconditions = message[2]?.last {
                guard let read = strings(preconditions) else { return nil }
                var fields = JSONObject()
                if let uid = read[1] { fields["uid"] = .string(uid) }
                if let version = read[2] { fields["resourceVersion"] = .string(version) }
                object["preconditions"] = .object(fields)
            }
            guard let policy = texts(message, [(4, "propagationPolicy")]) else { return nil }
            object["propagationPolicy"] = policy["propagationPolicy"]
            if let dryRun = message[5] {
                guard let values = repeated(dryRun) else { return nil }
                object["dryRun"] = values
            }
        default:
            return nil
        }
        return .object(object)
    }

    /// The fields of an `ObjectMeta` a client sets: name, generateName, namespace,
    /// resourceVersion, labels, annotations, finalizers.
    static func objectMeta(_ bytes: ArraySlice<UInt8>) -> JSONObject? {
        guard let read = fields(bytes),
            var metadata = texts(read, [(1, "name"), (2, "generateName"), (3, "namespace"), (6, "resourceVersion")])
        else { return nil }
        for (number, name) in [(11, "labels"), (12, "annotations")] {
            guard let entries = read[number] else { continue }
            var map = JSONObject()
            for entry in entries {
                guard let pair = strings(entry) else { return nil }
                map[pair[1] ?? ""] = .string(pair[2] ?? "")
            }
            metadata[name] = .object(map)
        }
        if let finalizers = read[14] {
            guard let names = repeated(finalizers) else { return nil }
            metadata["finalizers"] = names
        }
        return metadata
    }

    /// The string fields `names` of a message (each its last value), by name; nil when one is
    /// not UTF-8.
    static func texts(_ read: [Int: [ArraySlice<UInt8>]], _ names: [(number: Int, name: String)]) -> JSONObject? {
        var object = JSONObject()
        for (number, name) in names {
            guard let value = read[number]?.last else { continue }
            guard let text = String(validating: value, as: UTF8.self) else { return nil }
            object[name] = .string(text)
        }
        return object
    }

    /// Every value of a repeated string field; nil when one is not UTF-8.
    static func repeated(_ values: [ArraySlice<UInt8>]) -> JSONValue? {
        var texts: [JSONValue] = []
        for value in values {
            guard let text = String(validating: value, as: UTF8.self) else { return nil }
            texts.append(.string(text))
        }
        return .array(texts)
    }

    /// The review in `bytes` as JSON, or nil when it does not read.
    static func review(_ bytes: [UInt8]) -> JSONValue? {
        guard let (_, kind, raw) = envelope(bytes), let object = fields(raw) else { return nil }
        var spec = JSONObject()
        if let specBytes = object[2]?.first, let specFields = fields(specBytes) {
            switch kind {
            case "SelfSubjectAccessReview":
                if let attributes = specFields[1]?.first, let read = strings(attributes) {
                    spec["resourceAttributes"] = .object(
                        names(
                            read,
                            [
                                1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                                6: "subresource", 7: "name",
                            ]))
                }
                if let attributes = specFields[2]?.first, let read = strings(attributes) {
                    spec["nonResourceAttributes"] = .object(names(read, [1: "path", 2: "verb"]))
                }
            case "SelfSubjectRulesReview":
                if let namespace = specFields[1]?.last {
                    guard let text = String(validating: namespace, as: UTF8.self) else { return nil }
                    spec["namespace"] = .string(text)
                }
            default: break
            }
        }
        return ["spec": .object(spec)]
    }

    /// The varint fields of a message, by number, each its last value; nil when it is malformed.
    static func varints(_ bytes: ArraySlice<UInt8>) -> [Int: UInt64]? {
        var result: [Int: UInt64] = [:]
        guard walk(bytes, { number, value, _ in if let value { result[number] = value } }) else { return nil }
        return result
    }

    /// The length-delimited fields of a message, by number (other wire types are skipped); nil
    /// when it is malformed.
    static func fields(_ bytes: ArraySlice<UInt8>) -> [Int: [ArraySlice<UInt8>]]? {
        var result: [Int: [ArraySlice<UInt8>]] = [:]
        guard walk(bytes, { number, _, slice in if let slice { result[number, default: []].append(slice) } }) else {
            return nil
        }
        return result
    }

    /// Visits each field of a message: its number, and its value when it is a varint or its bytes
    /// when it is length-delimited (fixed-size fields are skipped); false when it is malformed.
    static func walk(
        _ bytes: ArraySlice<UInt8>, _ visit: (Int, UInt64?, ArraySlice<UInt8>?) -> Void
    ) -> Bool {
        var index = bytes.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.endIndex, shift < 64 {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while index < bytes.endIndex {
            guard let key = varint(), key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { return false }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let value = varint() else { return false }
                visit(number, value, nil)
            case 1:
                guard bytes.endIndex - index >= 8 else { return false }
                index += 8
            case 5:
                guard bytes.endIndex - index >= 4 else { return false }
                index += 4
            case 2:
                guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return false }
                let end = index + Int(length)
                visit(number, nil, bytes[index..<end])
                index = end
            default: return false
            }
        }
        return true
    }

    /// A message of string fields, each its last value; nil when one is not a message or not UTF-8.
    static func strings(_ bytes: ArraySlice<UInt8>) -> [Int: String]? {
        guard let read = fields(bytes) else { return nil }
        var result: [Int: String] = [:]
        for (number, values) in read {
            guard let last = values.last, let text = String(validating: last, as: UTF8.self) else { return nil }
            result[number] = text
        }
        return result
    }

    static func names(_ read: [Int: String], _ names: [Int: String]) -> JSONObject {
        var object = JSONObject()
        for (number, name) in names { object[name] = .string(read[number] ?? "") }
        return object
    }
}
