import ArgumentParser
import EventLog
import Foundation
import MeshLedger
import MeshModel
import Projection

/// Output formats of `get`.
enum GetFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case wide
    case yaml
    case json
}

/// Output formats of `outputs`.
enum ManifestFormat: String, ExpressibleByArgument, CaseIterable {
    case yaml
    case json
}

/// `--at SEQ|TIME`: the point in history to look at.
struct PointInTime: ParsableArguments {
    @Option(
        help: ArgumentHelp("Look at the state after this sequence, or at this RFC 3339 time.", valueName: "seq|time"))
    var at: String?

    /// The sequence to project to (nil: the head).
    func sequence(in store: Store) throws -> UInt64? {
        try at.map { try MeshLedgerCLI.sequence($0, flag: "--at", in: store) }
    }
}

func resourceKind(_ name: String) throws -> ResourceKind {
    guard let kind = ResourceKind(resourceName: name) else {
        let known = ResourceKind.allCases.map(\.plural).joined(separator: ", ")
        throw CLIError("the server doesn't have a resource type \"\(name)\" (MeshLedger has \(known))")
    }
    return kind
}

/// Writes a list of objects or one object as JSON or YAML, kubectl style.
func printObjects(_ objects: [JSONValue], single: Bool, format: GetFormat) {
    let value: JSONValue = single ? objects[0] : ["apiVersion": "v1", "kind": "List", "items": .array(objects)]
    switch format {
    case .json: print(JSONText.string(value, pretty: true))
    default: print(YAMLText.emit(value), terminator: "")
    }
}

extension MeshLedgerCommand {
    /// `get KIND [NAME]`.
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show objects; VirtualDestinations with their derived status.",
            discussion: "Without -n the namespace is `default`, as with kubectl; -A lists every namespace.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var time: PointInTime
        @Argument(
            help: ArgumentHelp(
                "The kind (virtualdestination, vd, destination, mesh, virtualmesh, trafficpolicy, ...).",
                valueName: "kind"))
        var kind: String
        @Argument(help: ArgumentHelp("One object's name.", valueName: "name")) var name: String?
        @Option(name: .shortAndLong, help: "The namespace.") var namespace: String?
        @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List every namespace.")
        var allNamespaces = false
        @Option(name: .shortAndLong, help: "table, wide, yaml or json.") var output: GetFormat = .table

        func run() throws {
            let kind = try resourceKind(self.kind)
            let store = try global.openForReading()
            let at = try time.sequence(in: store)
            let namespace = allNamespaces && name == nil ? nil : (self.namespace ?? "default")
            var objects: [JSONValue]
            if let name {
                let key = ObjectKey(kind: kind, namespace: namespace ?? "default", name: name)
                guard let object = try store.storedObject(key, at: at) else {
                    throw CLIError("\(kind.qualifiedName) \"\(name)\" not found in namespace \(key.namespace)")
                }
                objects = [object]
            } else {
                objects = try store.storedObjects(kind, namespace: namespace, at: at)
            }
            var projection: Projection?
            if kind == .virtualDestination {
                let projected = try store.project(upTo: at).projection
                projection = projected
                objects = objects.map { object in
                    guard case .object(var root) = object else { return object }
                    let ref = ObjectRef(json: object["metadata"])
                    root["status"] = projected.states[ref]?.status.json
                    return .object(root)
                }
            }
            switch output {
            case .json, .yaml:
                if objects.isEmpty && name == nil {
                    printObjects([], single: false, format: output)
                } else {
                    printObjects(objects, single: name != nil, format: output)
                }
            case .table, .wide:
                if objects.isEmpty {
                    let scope = namespace.map { " in \($0) namespace" } ?? ""
                    FileHandle.standardError.write(Data("No resources found\(scope).\n".utf8))
                    return
                }
                print(table(kind, objects, projection: projection, wide: output == .wide).render(), terminator: "")
            }
        }

        func table(_ kind: ResourceKind, _ objects: [JSONValue], projection: Projection?, wide: Bool) -> Table {
            func meta(_ o: JSONValue, _ field: String) -> String { o[path: ["metadata", field]]?.stringValue ?? "" }
            func spec(_ o: JSONValue, _ path: String...) -> String {
                guard let value = o[path: ["spec"] + path] else { return "" }
                if case .int(let i) = value { return String(i) }
                return value.stringValue ?? ""
            }
            let generation: (JSONValue) -> String = { o in
                o[path: ["metadata", "generation"]]?.intValue.map(String.init) ?? "-"
            }
            var headers: [String]
            var rows: [[String]] = []
            switch kind {
            case .virtualDestination:
                headers = ["NAME", "NAMESPACE", "HOSTNAME", "STATE", "MESHES", "SELECTED"]
                if wide { headers += ["PORT", "GENERATION", "OBSERVED", "RESOURCEVERSION"] }
                for o in objects {
                    let status = projection?.states[ObjectRef(json: o["metadata"])]?.status
                    let accepted = status?.meshes.filter { $0.status.state == .accepted }.count ?? 0
                    var row = [
                        meta(o, "name"), meta(o, "namespace"), spec(o, "hostname"), status?.state.rawValue ?? "PENDING",
                        "\(accepted)/\(status?.meshes.count ?? 0)", String(status?.selectedDestinations.count ?? 0),
                    ]
                    if wide {
                        row += [
                            "\(spec(o, "port", "number"))/\(spec(o, "port", "protocol"))", generation(o),
                            status.map { String($0.observedGeneration) } ?? "-", meta(o, "resourceVersion"),
                        ]
                    }
                    rows.append(row)
                }
            case .destination:
                headers = ["NAME", "NAMESPACE", "CLUSTER", "SERVICE", "MESH"]
                if wide { headers += ["REGION", "RESOURCEVERSION"] }
                for o in objects {
                    let d = Destination(object: o)
                    var row = [
                        meta(o, "name"), meta(o, "namespace"), d.service.clusterName,
                        "\(d.service.namespace)/\(d.service.name)", d.mesh.name,
                    ]
                    if wide { row += [d.region.isEmpty ? "-" : d.region, meta(o, "resourceVersion")] }
                    rows.append(row)
                }
            case .mesh:
                headers = ["NAME", "NAMESPACE", "TYPE", "CLUSTER", "REGION", "GATEWAYS"]
                for o in objects {
                    let m = Mesh(object: o)
                    rows.append([
                        meta(o, "name"), meta(o, "namespace"), m.type, m.cluster, m.region.isEmpty ? "-" : m.region,
                        String(m.ingressGateways.count),
                    ])
                }
            case .virtualMesh:
                headers = ["NAME", "NAMESPACE", "MESHES", "SUFFIX", "GENERATION"]
                for o in objects {
                    let vm = VirtualMesh(object: o)
                    rows.append([
                        meta(o, "name"), meta(o, "namespace"), String(vm.meshes.count), vm.hostnameSuffix,
                        generation(o),
                    ])
                }
            case .trafficPolicy:
                headers = ["NAME", "NAMESPACE", "OUTLIER DETECTION", "GENERATION"]
                for o in objects {
                    let tp = TrafficPolicy(object: o)
                    rows.append([
                        meta(o, "name"), meta(o, "namespace"), tp.outlierDetection == nil ? "no" : "yes", generation(o),
                    ])
                }
            case .syncResult:
                headers = ["NAME", "NAMESPACE", "CLUSTER", "KIND", "OBJECT", "RESULT"]
                for o in objects {
                    rows.append([
                        meta(o, "name"), meta(o, "namespace"), spec(o, "cluster"), spec(o, "kind"), spec(o, "name"),
                        spec(o, "result"),
                    ])
                }
            }
            var table = Table(headers: headers)
            for row in rows { table.add(row) }
            return table
        }
    }

    /// `outputs`: the Istio objects, grouped by target cluster.
    struct Outputs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print the Istio objects (networking.istio.io/v1alpha3) derived for accepted meshes, grouped by cluster.",
            discussion: "With --cluster the output is ready for `kubectl apply -f -` against that cluster.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var time: PointInTime
        @Option(help: "Only objects written to this cluster.") var cluster: String?
        @Option(help: "Only objects of this mesh (name.namespace. or name.namespace).") var mesh: String?
        @Option(name: .shortAndLong, help: "yaml or json.") var output: ManifestFormat = .yaml

        func run() throws {
            let store = try global.openForReading()
            let (projection, _, _) = try store.project(upTo: time.sequence(in: store))
            let meshKey = mesh.map { $0.hasSuffix(".") ? $0 : $0 + "." }
            let objects = mergeOutputs(projection.states.flatMap { ref, state in state.outputs.map { (ref, $0) } })
                .filter { (cluster == nil || $0.key.cluster == cluster) && (meshKey == nil || $0.mesh == meshKey) }
            switch output {
            case .json:
                print(
                    JSONText.string(
                        ["apiVersion": "v1", "kind": "List", "items": .array(objects.map(\.manifest))], pretty: true))
            case .yaml:
                var current: String?
                for object in objects {
                    if object.key.cluster != current {
                        current = object.key.cluster
                        print("# cluster: \(object.key.cluster)")
                    }
                    print("---\n" + YAMLText.emit(object.manifest), terminator: "")
                }
                if objects.isEmpty { FileHandle.standardError.write(Data("No outputs.\n".utf8)) }
            }
        }
    }

    /// `explain virtualdestination NAME -n NS`.
    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Explain why a VirtualDestination is in its state: every error and warning and the changes behind it.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var time: PointInTime
        @Argument(help: ArgumentHelp("virtualdestination (or vd).", valueName: "kind")) var kind: String
        @Argument(help: ArgumentHelp("Its name.", valueName: "name")) var name: String
        @Option(name: .shortAndLong, help: "Its namespace.") var namespace = "default"

        func run() throws {
            guard try resourceKind(kind) == .virtualDestination else {
                throw CLIError("explain takes a virtualdestination")
            }
            let store = try global.openForReading()
            let at = try time.sequence(in: store)
            let (projection, reached, _) = try store.project(upTo: at)
            let ref = ObjectRef(name: name, namespace: namespace)
            guard let state = projection.states[ref], let record = projection.world.virtualDestinations[ref] else {
                throw CLIError(
                    "virtualdestination \"\(name)\" not found in namespace \(namespace) at sequence \(reached)")
            }
            let lastChange: (ObjectKey) throws -> String = { key in
                let history = try store.log.history(of: key).filter { $0 <= reached }
                guard let s = history.last, let event = try store.log.event(at: s) else { return "never recorded" }
                let verb = event.change == .delete ? "deleted" : "changed"
                return "\(verb) at seq \(s) by \(event.actor) (\(event.source.rawValue), \(event.recordedAt))"
            }
            let status = state.status
            let vdKey = ObjectKey(kind: .virtualDestination, namespace: namespace, name: name)
            print("VirtualDestination \(namespace)/\(name): \(status.state.rawValue) at seq \(reached)")
            print(
                "  generation \(record.generation), observedGeneration \(status.observedGeneration), \(try lastChange(vdKey))"
            )
            print(
                "  hostname \(record.spec.hostname ?? "(none)"), selected \(status.selectedDestinations.count) destination(s)"
            )
            for selected in status.selectedDestinations { print("    - \(selected.service)") }
            print("\nMeshes:")
            if status.meshes.isEmpty { print("  (none)") }
            for (key, entry) in status.meshes {
                let order = entry.acceptanceOrder.map { " (acceptance order \($0))" } ?? ""
                print("  \(key)  \(entry.state.rawValue)\(order)")
            }
            let e = state.evaluation
            var issues: [(kind: String, scope: String, issue: Issue)] = []
            for issue in e.errors { issues.append(("error", "all meshes", issue)) }
            for issue in e.topLevelErrors { issues.append(("error", "top level", issue)) }
            for (mesh, list) in e.meshErrors.sorted(by: { $0.key.key < $1.key.key }) {
                for issue in list { issues.append(("error", "mesh \(mesh.key)", issue)) }
            }
            for mesh in e.exported {
                if case .blocked(let holder)? = projection.acceptance[mesh]?.outcome(of: ref) {
                    let message =
                        "Hostname \(record.spec.hostname ?? "") is already used by VirtualDestination \(holder), accepted earlier"
                    issues.append(
                        ("error", "mesh \(mesh.key)", Issue(message, [vdKey, holder.objectKey(.virtualDestination)])))
                }
            }
            for piece in state.outputs {
                if let failure = projection.world.writeFailures[piece.key] {
                    let report = projection.world.syncResultKeys.first { $0.value == piece.key }?.key
                    issues.append(
                        (
                            "error", "output \(piece.key)",
                            Issue("write error: \(failure)", report.map { [$0.objectKey(.syncResult)] } ?? [])
                        ))
                }
            }
            for issue in e.warnings { issues.append(("warning", "all meshes", issue)) }
            print(issues.isEmpty ? "\nNo errors or warnings." : "\nErrors and warnings:")
            for (kind, scope, issue) in issues {
                print("  \(kind) (\(scope)): \(issue.message)")
                var seen = Set<ObjectKey>()
                for input in issue.inputs where seen.insert(input).inserted {
                    print("      \(input.kind.rawValue) \(input.namespace)/\(input.name): \(try lastChange(input))")
                }
            }
        }
    }

    /// `report applied|failed`.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a controller's result of writing one output object (applied, or failed with an error).",
            discussion:
                "A failed write makes every parent VirtualDestination FAILED until the object is reported applied.")

        enum Result: String, ExpressibleByArgument, CaseIterable {
            case applied
            case failed
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: "applied or failed.") var result: Result
        @Option(help: "The cluster written to.") var cluster: String
        @Option(help: "The output kind (ServiceEntry, DestinationRule, EnvoyFilter).") var kind: String
        @Option(help: "The output object's name.") var name: String
        @Option(name: .shortAndLong, help: "The output object's namespace.") var namespace: String
        @Option(help: "The digest of the object applied (from outputs -o json).") var digest: String?
        @Option(help: "The error text of a failed write.") var error: String?
        @Option(help: "The reporting controller.") var actor = "controller"

        func validate() throws {
            if result == .failed && error == nil { throw ValidationError("report failed needs --error TEXT") }
            if !["ServiceEntry", "DestinationRule", "EnvoyFilter"].contains(kind) {
                throw ValidationError("--kind must be ServiceEntry, DestinationRule or EnvoyFilter")
            }
        }

        func run() throws {
            let store = try global.openForWriting()
            let output = OutputKey(cluster: cluster, kind: kind, namespace: namespace, name: name)
            let appended = try store.report(
                applied: result == .applied, output: output, digest: digest, error: error, actor: actor)
            try finish(appended, store)
        }
    }
}
