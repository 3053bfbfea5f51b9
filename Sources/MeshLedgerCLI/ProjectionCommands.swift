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
            let kind = try ResourceKind.named(self.kind)
            let store = try global.openForReading()
            let at = try time.sequence(in: store)
            let namespace = allNamespaces && name == nil ? nil : (self.namespace ?? "default")
            // Only VirtualDestinations have a derived status to project.
            let projection = kind == .virtualDestination ? try store.project(upTo: at).projection : Projection()
            var objects: [JSONValue]
            if let name {
                let key = ObjectKey(kind: kind, namespace: namespace ?? "default", name: name)
                guard let object = try store.object(key, at: at, statuses: projection) else {
                    throw CLIError("\(kind.qualifiedName) \"\(name)\" not found in namespace \(key.namespace)")
                }
                objects = [object]
            } else {
                objects = try store.objects(kind, namespace: namespace, at: at, statuses: projection)
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

        func table(_ kind: ResourceKind, _ objects: [JSONValue], projection: Projection, wide: Bool) -> Table {
            let shown = ObjectTable.columns(kind).enumerated().filter { wide || $0.element.priority == 0 }
            var table = Table(headers: ["NAME", "NAMESPACE"] + shown.map { $0.element.name.uppercased() })
            for o in objects {
                let cells = ObjectTable.cells(o, kind, projection: projection)
                table.add(
                    [
                        o[path: ["metadata", "name"]]?.stringValue ?? "",
                        o[path: ["metadata", "namespace"]]?.stringValue ?? "",
                    ]
                        + shown.map { cells[$0.offset] })
            }
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
            let objects = store.outputs(matching: OutputFilter(cluster: cluster, mesh: mesh), in: projection)
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
            guard try ResourceKind.named(kind) == .virtualDestination else {
                throw CLIError("explain takes a virtualdestination")
            }
            let store = try global.openForReading()
            let (projection, reached, _) = try store.project(upTo: time.sequence(in: store))
            let ref = ObjectRef(name: name, namespace: namespace)
            guard let explanation = try store.explain(ref, in: projection, at: reached) else {
                throw CLIError(
                    "virtualdestination \"\(name)\" not found in namespace \(namespace) at sequence \(reached)")
            }
            print(Self.render(explanation), terminator: "")
        }

        /// The explanation as text.
        static func render(_ explanation: Explanation) -> String {
            func describe(_ event: Event?) -> String {
                guard let event else { return "never recorded" }
                let verb = event.change == .delete ? "deleted" : "changed"
                return
                    "\(verb) at seq \(event.sequence) by \(event.actor) (\(event.source.rawValue), \(event.recordedAt))"
            }
            let status = explanation.status
            let ref = explanation.ref
            var out =
                "VirtualDestination \(ref.namespace)/\(ref.name): \(status.state.rawValue) at seq \(explanation.sequence)\n"
            out +=
                "  generation \(explanation.generation), observedGeneration \(status.observedGeneration), \(describe(explanation.lastChange))\n"
            out +=
                "  hostname \(explanation.hostname ?? "(none)"), selected \(status.selectedDestinations.count) destination(s)\n"
            for selected in status.selectedDestinations { out += "    - \(selected.service)\n" }
            out += "\nMeshes:\n"
            if status.meshes.isEmpty { out += "  (none)\n" }
            for (key, entry) in status.meshes {
                let order = entry.acceptanceOrder.map { " (acceptance order \($0))" } ?? ""
                out += "  \(key)  \(entry.state.rawValue)\(order)\n"
            }
            out += explanation.entries.isEmpty ? "\nNo errors or warnings.\n" : "\nErrors and warnings:\n"
            for entry in explanation.entries {
                out += "  \(entry.severity.rawValue) (\(entry.scope)): \(entry.message)\n"
                for input in entry.inputs {
                    out +=
                        "      \(input.key.kind.rawValue) \(input.key.namespace)/\(input.key.name): \(describe(input.lastChange))\n"
                }
            }
            if let recorded = explanation.recordedStatus {
                let drift = explanation.drift
                out +=
                    "\nRecorded status (written by the cluster's controller): \(recorded["state"]?.stringValue ?? "(no state)"), \(drift.isEmpty ? "agrees with the derived status" : "differs from the derived status:")\n"
                for line in drift { out += "  \(line)\n" }
            }
            return out
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

        func run() throws {
            let output = OutputKey(cluster: cluster, kind: kind, namespace: namespace, name: name)
            let batch = try Batch.report(
                Feedback(applied: result == .applied, output: output, digest: digest, error: error), actor: actor)
            let store = try global.openForWriting()
            try append(batch, to: store)
        }
    }
}
