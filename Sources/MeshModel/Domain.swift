/// Typed views of the five input kinds: the fields docs/domain.md section 2 says matter, read from
/// objects that already passed structural validation (`Manifest`). Missing fields read as empty.

/// A reference to an object by name and namespace (`core.skv2.solo.io.ObjectRef`).
public struct ObjectRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// `name`.
    public var name: String
    /// `namespace`.
    public var namespace: String

    /// Creates a reference.
    public init(name: String, namespace: String) {
        self.name = name
        self.namespace = namespace
    }

    /// Reads `{name, namespace}`.
    public init(json: JSONValue?) {
        name = json?["name"]?.stringValue ?? ""
        namespace = json?["namespace"]?.stringValue ?? ""
    }

    /// `name.namespace.`, the skv2 key statuses use.
    public var key: String { "\(name).\(namespace)." }
    /// `name.namespace`, as messages say it.
    public var description: String { "\(name).\(namespace)" }
    /// `{name, namespace}`.
    public var json: JSONValue { ["name": .string(name), "namespace": .string(namespace)] }

    public static func < (a: ObjectRef, b: ObjectRef) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

extension ObjectRef {
    /// Whether `a.key < b.key`, without building the keys when both refs are ASCII (then String
    /// order is byte order); otherwise by comparing the keys. Sorting meshes by key is on the
    /// fold's path.
    public static func keyPrecedes(_ a: ObjectRef, _ b: ObjectRef) -> Bool {
        if let ordered = asciiKeyPrecedes(a, b) { return ordered }
        return a.key < b.key
    }

    /// The byte order of `name.namespace.` for two ASCII refs; nil when either is not ASCII.
    private static func asciiKeyPrecedes(_ a: ObjectRef, _ b: ObjectRef) -> Bool? {
        var (aName, aNamespace, bName, bNamespace) = (a.name, a.namespace, b.name, b.namespace)
        return aName.withUTF8 { aName in
            aNamespace.withUTF8 { aNamespace in
                bName.withUTF8 { bName in
                    bNamespace.withUTF8 { bNamespace in
                        let left = KeyBytes(name: aName, namespace: aNamespace)
                        let right = KeyBytes(name: bName, namespace: bNamespace)
                        guard left.isASCII, right.isASCII else { return nil }
                        for index in 0..<min(left.count, right.count) {
                            let (x, y) = (left[index], right[index])
                            if x != y { return x < y }
                        }
                        return left.count < right.count
                    }
                }
            }
        }
    }

    /// The bytes of `name.namespace.` read in place.
    private struct KeyBytes {
        let name: UnsafeBufferPointer<UInt8>
        let namespace: UnsafeBufferPointer<UInt8>
        var count: Int { name.count + namespace.count + 2 }
        var isASCII: Bool { !name.contains { $0 >= 0x80 } && !namespace.contains { $0 >= 0x80 } }

        subscript(index: Int) -> UInt8 {
            if index < name.count { return name[index] }
            let rest = index - name.count - 1
            return rest >= 0 && rest < namespace.count ? namespace[rest] : UInt8(ascii: ".")
        }
    }
}

extension Sequence<ObjectRef> {
    /// The refs ordered by `key` (`name.namespace.`), the order statuses list meshes in.
    @inlinable public func sortedByKey() -> [ObjectRef] { sorted(by: ObjectRef.keyPrecedes) }

    /// The distinct refs ordered by `key`: what `Set(refs).sortedByKey()` gives, without building
    /// a set, and without sorting refs already in order (a VirtualMesh's meshes usually are).
    public func distinctSortedByKey() -> [ObjectRef] {
        var refs = Array(self)
        // Keys strictly increasing: in order, and no two refs the same.
        guard zip(refs, refs.dropFirst()).contains(where: { !ObjectRef.keyPrecedes($0, $1) }) else { return refs }
        // Refs with equal keys (possible only with dots in names) are ordered by name, so that
        // copies of one ref end up next to each other.
        refs.sort { ObjectRef.keyPrecedes($0, $1) || (!ObjectRef.keyPrecedes($1, $0) && $0 < $1) }
        var distinct: [ObjectRef] = []
        distinct.reserveCapacity(refs.count)
        for ref in refs where ref != distinct.last { distinct.append(ref) }
        return distinct
    }
}

/// A reference to an object in a cluster (`core.skv2.solo.io.ClusterObjectRef`).
public struct ClusterObjectRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// `name`.
    public var name: String
    /// `namespace`.
    public var namespace: String
    /// `clusterName`.
    public var clusterName: String

    /// Creates a reference.
    public init(name: String, namespace: String, clusterName: String) {
        self.name = name
        self.namespace = namespace
        self.clusterName = clusterName
    }

    /// Reads `{name, namespace, clusterName}`.
    public init(json: JSONValue?) {
        name = json?["name"]?.stringValue ?? ""
        namespace = json?["namespace"]?.stringValue ?? ""
        clusterName = json?["clusterName"]?.stringValue ?? ""
    }

    /// `name.namespace.cluster`, as messages say a service.
    public var description: String { "\(name).\(namespace).\(clusterName)" }

    /// `{clusterName, name, namespace}`, empty members left out.
    public var json: JSONValue {
        var object = JSONObject()
        if !clusterName.isEmpty { object["clusterName"] = .string(clusterName) }
        object["name"] = .string(name)
        object["namespace"] = .string(namespace)
        return .object(object)
    }

    /// Orders by (clusterName, namespace, name), the order localized selections are listed in.
    public static func < (a: ClusterObjectRef, b: ClusterObjectRef) -> Bool {
        (a.clusterName, a.namespace, a.name) < (b.clusterName, b.namespace, b.name)
    }
}

/// Reads a `map<string,string>`.
func stringMap(_ json: JSONValue?) -> [String: String] {
    var result: [String: String] = [:]
    for member in json?.objectValue ?? JSONObject() {
        if let value = member.value.stringValue { result[member.key] = value }
    }
    return result
}

/// Reads a `[]string`.
func strings(_ json: JSONValue?) -> [String] {
    (json?.arrayValue ?? []).compactMap(\.stringValue)
}

/// A discovered service (`Destination` with `spec.kubeService`). Its fields live in one shared,
/// immutable box: a copy costs one reference count instead of one per string, label map and port
/// list, and comparing a Destination with a copy of itself is an identity check. Evaluation copies
/// the Destinations it selects, sorts them and compares selections on every fold and restore.
public struct Destination: Sendable, Hashable {
    /// One service port.
    public struct Port: Sendable, Hashable {
        /// `port`.
        public var port: Int64
        /// `name`.
        public var name: String
        /// `protocol`.
        public var `protocol`: String
    }

    /// The fields, as read from the object.
    private struct Fields: Sendable, Hashable {
        var ref: ObjectRef
        var objectCluster: String
        var service: ClusterObjectRef
        var labels: [String: String]
        var ports: [Port]
        var region: String
        var zone: String
        var mesh: ObjectRef
    }

    private final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private let box: Box

    /// The Destination object's own name and namespace.
    public var ref: ObjectRef { box.fields.ref }
    /// `metadata.clusterName`, if the object carries one.
    public var objectCluster: String { box.fields.objectCluster }
    /// `spec.kubeService.ref`: the service's identity.
    public var service: ClusterObjectRef { box.fields.service }
    /// `spec.kubeService.labels`.
    public var labels: [String: String] { box.fields.labels }
    /// `spec.kubeService.ports`.
    public var ports: [Port] { box.fields.ports }
    /// `spec.kubeService.region`.
    public var region: String { box.fields.region }
    /// The first zone found among the endpoints (`subLocality.zone`), if any.
    public var zone: String { box.fields.zone }
    /// `spec.mesh`.
    public var mesh: ObjectRef { box.fields.mesh }

    public static func == (a: Destination, b: Destination) -> Bool { a.box === b.box || a.box.fields == b.box.fields }

    public func hash(into hasher: inout Hasher) { hasher.combine(box.fields) }

    /// The parts of a Destination object `init(object:)` reads: an object decoded with this shape
    /// gives the same Destination as the whole object (endpoints keep only their zone).
    public static let shape: ValueShape = [
        "metadata": ["name": .all, "namespace": .all, "clusterName": .all],
        "spec": [
            "kubeService": [
                "ref": .all, "labels": .all, "ports": .all, "region": .all,
                "endpointSubsets": ["endpoints": ["subLocality": ["zone": .all]]],
            ],
            "mesh": .all,
        ],
    ]

    /// Reads a Destination object (only what `shape` names).
    public init(object: JSONValue) {
        let kube = object[path: ["spec", "kubeService"]]
        var zone = ""
        for subset in kube?["endpointSubsets"]?.arrayValue ?? [] {
            for endpoint in subset["endpoints"]?.arrayValue ?? [] {
                if let found = endpoint[path: ["subLocality", "zone"]]?.stringValue, !found.isEmpty, zone.isEmpty {
                    zone = found
                }
            }
        }
        box = Box(
            Fields(
                ref: ObjectRef(json: object["metadata"]),
                objectCluster: object[path: ["metadata", "clusterName"]]?.stringValue ?? "",
                service: ClusterObjectRef(json: kube?["ref"]),
                labels: stringMap(kube?["labels"]),
                ports: (kube?["ports"]?.arrayValue ?? []).map {
                    Port(
                        port: $0["port"]?.intValue ?? 0, name: $0["name"]?.stringValue ?? "",
                        protocol: $0["protocol"]?.stringValue ?? "")
                },
                region: kube?["region"]?.stringValue ?? "",
                zone: zone,
                mesh: ObjectRef(json: object[path: ["spec", "mesh"]])))
    }

    /// The Destination object's own reference, as `status.selectedDestinations[].ref` shows it.
    public var objectRef: ClusterObjectRef {
        ClusterObjectRef(name: ref.name, namespace: ref.namespace, clusterName: objectCluster)
    }
}

/// A discovered mesh.
public struct Mesh: Sendable, Hashable {
    /// One ingress gateway of an Istio mesh.
    public struct IngressGateway: Sendable, Hashable {
        /// `externalAddress`.
        public var externalAddress: String
        /// `externalTlsPort`.
        public var externalTlsPort: Int64
    }

    /// The Mesh object's name and namespace.
    public var ref: ObjectRef
    /// `istio`, or the other type's field name (`awsAppMesh`, `linkerd`, ...), or `unknown`.
    public var type: String
    /// `istio.installation.cluster`.
    public var cluster: String
    /// `istio.installation.namespace` (where outputs go).
    public var installationNamespace: String
    /// `istio.installation.region`.
    public var region: String
    /// `istio.ingressGateways`.
    public var ingressGateways: [IngressGateway]

    /// Reads a Mesh object.
    public init(object: JSONValue) {
        ref = ObjectRef(json: object["metadata"])
        let spec = object["spec"]
        if let istio = spec?["istio"] {
            type = "istio"
            let installation = istio["installation"]
            cluster = installation?["cluster"]?.stringValue ?? ""
            installationNamespace = installation?["namespace"]?.stringValue ?? "istio-system"
            region = installation?["region"]?.stringValue ?? ""
            ingressGateways = (istio["ingressGateways"]?.arrayValue ?? []).map {
                IngressGateway(
                    externalAddress: $0["externalAddress"]?.stringValue ?? "",
                    externalTlsPort: $0["externalTlsPort"]?.intValue ?? 0)
            }
        } else {
            type = ["awsAppMesh", "linkerd", "consulConnect", "osm"].first { spec?[$0] != nil } ?? "unknown"
            cluster = spec?[path: [type, "installation", "cluster"]]?.stringValue ?? ""
            installationNamespace = spec?[path: [type, "installation", "namespace"]]?.stringValue ?? ""
            region = ""
            ingressGateways = []
        }
    }

    /// Whether this is an Istio mesh (the only type VirtualDestinations support).
    public var isIstio: Bool { type == "istio" }
}

/// A user-declared group of meshes.
public struct VirtualMesh: Sendable, Hashable {
    /// The VirtualMesh's name and namespace.
    public var ref: ObjectRef
    /// `spec.meshes`.
    public var meshes: [ObjectRef]
    /// `spec.federation.hostnameSuffix`, default `global`.
    public var hostnameSuffix: String

    /// Reads a VirtualMesh object.
    public init(object: JSONValue) {
        ref = ObjectRef(json: object["metadata"])
        meshes = (object[path: ["spec", "meshes"]]?.arrayValue ?? []).map { ObjectRef(json: $0) }
        let suffix = object[path: ["spec", "federation", "hostnameSuffix"]]?.stringValue ?? ""
        hostnameSuffix = suffix.isEmpty ? "global" : suffix
    }
}

/// Outlier detection settings (`TrafficPolicySpec.Policy.OutlierDetection`), as given.
public struct OutlierDetection: Sendable, Hashable {
    /// `consecutiveErrors`.
    public var consecutiveErrors: Int64?
    /// `interval`, a duration string.
    public var interval: String?
    /// `baseEjectionTime`, a duration string.
    public var baseEjectionTime: String?
    /// `maxEjectionPercent`.
    public var maxEjectionPercent: Int64?

    /// Reads it, or nil when absent.
    public init?(json: JSONValue?) {
        guard let json, case .object = json else { return nil }
        consecutiveErrors = json["consecutiveErrors"]?.intValue
        interval = json["interval"]?.stringValue
        baseEjectionTime = json["baseEjectionTime"]?.stringValue
        maxEjectionPercent = json["maxEjectionPercent"]?.intValue
    }
}

/// A selector of Destinations (`common.mesh.gloo.solo.io.DestinationSelector`).
public struct DestinationSelector: Sendable, Hashable {
    /// `kubeServiceMatcher`.
    public struct Matcher: Sendable, Hashable {
        /// `labels`.
        public var labels: [String: String]
        /// `namespaces`.
        public var namespaces: [String]
        /// `clusters`.
        public var clusters: [String]
    }

    /// `kubeServiceMatcher`, if set.
    public var matcher: Matcher?
    /// `kubeServiceRefs.services`, if set.
    public var refs: [ClusterObjectRef]?

    /// Reads a selector.
    public init(json: JSONValue) {
        if let matcher = json["kubeServiceMatcher"], case .object = matcher {
            self.matcher = Matcher(
                labels: stringMap(matcher["labels"]), namespaces: strings(matcher["namespaces"]),
                clusters: strings(matcher["clusters"]))
        }
        if let refs = json["kubeServiceRefs"], case .object = refs {
            self.refs = (refs["services"]?.arrayValue ?? []).map { ClusterObjectRef(json: $0) }
        }
    }

    /// docs/domain.md 4.2: the matcher matches, or one of the refs does (empty ref fields match any
    /// value); a selector with neither matches nothing.
    public func matches(_ destination: Destination) -> Bool {
        let service = destination.service
        if let matcher {
            let namespaceOK = matcher.namespaces.isEmpty || matcher.namespaces.contains(service.namespace)
            let labelsOK = matcher.labels.allSatisfy { destination.labels[$0.key] == $0.value }
            let clusterOK = matcher.clusters.isEmpty || matcher.clusters.contains(service.clusterName)
            if namespaceOK && labelsOK && clusterOK { return true }
        }
        for ref in refs ?? [] {
            if (ref.name.isEmpty || ref.name == service.name)
                && (ref.namespace.isEmpty || ref.namespace == service.namespace)
                && (ref.clusterName.isEmpty || ref.clusterName == service.clusterName)
            {
                return true
            }
        }
        return false
    }
}

/// A user TrafficPolicy: only its selection and outlier detection matter here.
public struct TrafficPolicy: Sendable, Hashable {
    /// The TrafficPolicy's name and namespace.
    public var ref: ObjectRef
    /// `spec.destinationSelector`; empty selects every Destination.
    public var destinationSelectors: [DestinationSelector]
    /// `spec.policy.outlierDetection`.
    public var outlierDetection: OutlierDetection?

    /// Reads a TrafficPolicy object.
    public init(object: JSONValue) {
        ref = ObjectRef(json: object["metadata"])
        destinationSelectors = (object[path: ["spec", "destinationSelector"]]?.arrayValue ?? []).map(
            DestinationSelector.init)
        outlierDetection = OutlierDetection(json: object[path: ["spec", "policy", "outlierDetection"]])
    }

    /// Whether the policy applies to a Destination (an empty selector list selects all).
    public func selects(_ destination: Destination) -> Bool {
        destinationSelectors.isEmpty || destinationSelectors.contains { $0.matches(destination) }
    }
}

/// A VirtualDestination's spec (the seed API).
public struct VirtualDestination: Sendable, Hashable {
    /// Where it is exported.
    public enum Export: Sendable, Hashable {
        /// `virtualMesh`: every mesh of that VirtualMesh.
        case virtualMesh(ObjectRef)
        /// `meshList.meshes`.
        case meshList([ObjectRef])
        /// Neither: the meshes of the selected backing Destinations.
        case backingMeshes
    }

    /// One `failoverDirectives` entry: regions only.
    public struct FailoverDirective: Sendable, Hashable {
        /// `from.region`.
        public var from: String
        /// `to[].region`.
        public var to: [String]
    }

    /// How backing Destinations are chosen.
    public enum Backing: Sendable, Hashable {
        /// `static.destinations[].kubeService`, in priority order.
        case staticList([ClusterObjectRef])
        /// `localized`.
        case localized(
            selectors: [DestinationSelector], failover: [FailoverDirective], outlierDetection: OutlierDetection?)
        /// Neither set.
        case none
    }

    /// The VirtualDestination's name and namespace.
    public var ref: ObjectRef
    /// `spec.hostname` (nil when absent).
    public var hostname: String?
    /// `spec.port` (nil when absent).
    public var port: (number: Int64, protocol: String)?
    /// Where it is exported.
    public var export: Export
    /// How backing Destinations are chosen.
    public var backing: Backing

    /// Reads a VirtualDestination object.
    public init(object: JSONValue) {
        ref = ObjectRef(json: object["metadata"])
        let spec = object["spec"]
        hostname = spec?["hostname"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if let port = spec?["port"], case .object = port {
            self.port = (port["number"]?.intValue ?? 0, port["protocol"]?.stringValue ?? "")
        }
        if let vm = spec?["virtualMesh"], case .object = vm {
            export = .virtualMesh(ObjectRef(json: vm))
        } else if let list = spec?["meshList"], case .object = list {
            export = .meshList((list["meshes"]?.arrayValue ?? []).map { ObjectRef(json: $0) })
        } else {
            export = .backingMeshes
        }
        if let list = spec?["static"], case .object = list {
            backing = .staticList(
                (list["destinations"]?.arrayValue ?? []).map { ClusterObjectRef(json: $0["kubeService"]) })
        } else if let localized = spec?["localized"], case .object = localized {
            backing = .localized(
                selectors: (localized["destinationSelectors"]?.arrayValue ?? []).map(DestinationSelector.init),
                failover: (localized["failoverDirectives"]?.arrayValue ?? []).map {
                    FailoverDirective(
                        from: $0[path: ["from", "region"]]?.stringValue ?? "",
                        to: ($0["to"]?.arrayValue ?? []).compactMap { $0["region"]?.stringValue })
                },
                outlierDetection: OutlierDetection(json: localized["outlierDetection"]))
        } else {
            backing = .none
        }
    }

    public static func == (a: VirtualDestination, b: VirtualDestination) -> Bool {
        a.ref == b.ref && a.hostname == b.hostname && a.port?.number == b.port?.number
            && a.port?.protocol == b.port?.protocol && a.export == b.export && a.backing == b.backing
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ref)
        hasher.combine(hostname)
    }
}
