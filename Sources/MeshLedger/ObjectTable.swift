public import MeshModel
public import Projection

/// The columns `get` shows for each kind, with their cells: one definition for the CLI's table and
/// the Kubernetes API's server-side printing (`kubectl get`). Name, namespace and age are added by
/// each front end where it shows them.
public enum ObjectTable {
    /// One column.
    public struct Column: Sendable {
        /// The column's name, as Kubernetes Tables name them (`Hostname`); the CLI upper-cases it.
        public var name: String
        /// What it shows.
        public var description: String
        /// 0: always shown; 1: only in the wide output.
        public var priority: Int
    }

    /// The columns of a kind, after the name (and namespace).
    public static func columns(_ kind: ResourceKind) -> [Column] {
        func c(_ name: String, _ description: String, wide: Bool = false) -> Column {
            Column(name: name, description: description, priority: wide ? 1 : 0)
        }
        switch kind {
        case .virtualDestination:
            return [
                c("Hostname", "spec.hostname"), c("State", "The derived approval state"),
                c("Meshes", "Meshes accepted / meshes exported to"), c("Selected", "Backing destinations selected"),
                c("Port", "spec.port number/protocol", wide: true), c("Generation", "metadata.generation", wide: true),
                c("Observed", "status.observedGeneration", wide: true),
                c("ResourceVersion", "metadata.resourceVersion", wide: true),
            ]
        case .destination:
            return [
                c("Cluster", "The service's cluster"), c("Service", "The service's namespace/name"),
                c("Mesh", "The service's mesh"), c("Region", "The service's region", wide: true),
                c("ResourceVersion", "metadata.resourceVersion", wide: true),
            ]
        case .mesh:
            return [
                c("Type", "The mesh type"), c("Cluster", "The mesh's cluster"), c("Region", "The cluster's region"),
                c("Gateways", "Ingress gateways"),
            ]
        case .virtualMesh:
            return [
                c("Meshes", "Meshes grouped"), c("Suffix", "Federation hostname suffix"),
                c("Generation", "metadata.generation"),
            ]
        case .trafficPolicy:
            return [
                c("Outlier Detection", "Whether it sets outlier detection"), c("Generation", "metadata.generation"),
            ]
        case .syncResult:
            return [
                c("Cluster", "spec.cluster"), c("Kind", "spec.kind"), c("Object", "spec.name"),
                c("Result", "spec.result"),
            ]
        }
    }

    /// The cells of an object (as `Store.objects` shows it), one per column of `columns(kind)`.
    public static func cells(_ o: JSONValue, _ kind: ResourceKind, projection: Projection) -> [String] {
        func meta(_ field: String) -> String { o[path: ["metadata", field]]?.stringValue ?? "" }
        func spec(_ path: String...) -> String {
            guard let value = o[path: ["spec"] + path] else { return "" }
            if case .int(let i) = value { return String(i) }
            return value.stringValue ?? ""
        }
        let generation = o[path: ["metadata", "generation"]]?.intValue.map(String.init) ?? "-"
        switch kind {
        case .virtualDestination:
            let status = projection.status(of: ObjectRef(json: o["metadata"]))
            let accepted = status?.meshes.filter { $0.status.state == .accepted }.count ?? 0
            return [
                spec("hostname"), status?.state.rawValue ?? "PENDING", "\(accepted)/\(status?.meshes.count ?? 0)",
                String(status?.selectedDestinations.count ?? 0),
                "\(spec("port", "number"))/\(spec("port", "protocol"))",
                generation, status.map { String($0.observedGeneration) } ?? "-", meta("resourceVersion"),
            ]
        case .destination:
            let d = Destination(object: o)
            return [
                d.service.clusterName, "\(d.service.namespace)/\(d.service.name)", d.mesh.name,
                d.region.isEmpty ? "-" : d.region, meta("resourceVersion"),
            ]
        case .mesh:
            let m = Mesh(object: o)
            return [m.type, m.cluster, m.region.isEmpty ? "-" : m.region, String(m.ingressGateways.count)]
        case .virtualMesh:
            let vm = VirtualMesh(object: o)
            return [String(vm.meshes.count), vm.hostnameSuffix, generation]
        case .trafficPolicy:
            return [TrafficPolicy(object: o).outlierDetection == nil ? "no" : "yes", generation]
        case .syncResult:
            return [spec("cluster"), spec("kind"), spec("name"), spec("result")]
        }
    }
}
