/// Who reports an object: discovery agents, users, or controllers reporting sync results.
public enum EventSource: String, Sendable, Hashable, CaseIterable, Codable {
    case discovery
    case user
    case controller
}

/// The five input kinds of docs/domain.md section 2, and the controllers' sync results (4.6).
public enum ResourceKind: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case destination = "Destination"
    case mesh = "Mesh"
    case virtualMesh = "VirtualMesh"
    case trafficPolicy = "TrafficPolicy"
    case virtualDestination = "VirtualDestination"
    /// A controller's report that it applied (or failed to apply) one output object.
    case syncResult = "SyncResult"

    /// The API group.
    public var group: String {
        switch self {
        case .destination, .mesh: "discovery.mesh.gloo.solo.io"
        case .virtualMesh, .trafficPolicy: "networking.mesh.gloo.solo.io"
        case .virtualDestination: "networking.enterprise.mesh.gloo.solo.io"
        case .syncResult: "meshledger.dev"
        }
    }

    /// The API version within the group.
    public var version: String {
        switch self {
        case .virtualDestination, .syncResult: "v1alpha1"
        default: "v1alpha2"
        }
    }

    /// `group/version`, as manifests spell it.
    public var apiVersion: String { "\(group)/\(version)" }

    /// The lower-case singular name kubectl accepts (`virtualdestination`).
    public var singular: String { rawValue.lowercased() }

    /// The lower-case plural name kubectl accepts (`virtualdestinations`).
    public var plural: String {
        switch self {
        case .mesh: "meshes"
        case .virtualMesh: "virtualmeshes"
        case .trafficPolicy: "trafficpolicies"
        default: singular + "s"
        }
    }

    /// Short names, kubectl style.
    public var shortNames: [String] {
        switch self {
        case .destination: ["dest"]
        case .mesh: []
        case .virtualMesh: ["vm"]
        case .trafficPolicy: ["tp"]
        case .virtualDestination: ["vd"]
        case .syncResult: []
        }
    }

    /// Where objects of this kind come from.
    public var source: EventSource {
        switch self {
        case .destination, .mesh: .discovery
        case .syncResult: .controller
        default: .user
        }
    }

    /// Whether the store counts `metadata.generation` for this kind (user kinds).
    public var hasGeneration: Bool { source == .user }

    /// The kind named by a kubectl-style resource argument: kind, singular, plural, short name, or
    /// any of those followed by `.group`; case-insensitive.
    public init?(resourceName: String) {
        let lowered = resourceName.lowercased()
        for kind in ResourceKind.allCases {
            let names = [kind.singular, kind.plural] + kind.shortNames
            for name in names where lowered == name || lowered == "\(name).\(kind.group)" {
                self = kind
                return
            }
        }
        return nil
    }

    /// The kind for a manifest's `apiVersion` and `kind`, if it is one of ours.
    public init?(apiVersion: String, kind: String) {
        guard let match = ResourceKind(rawValue: kind), match.apiVersion == apiVersion else { return nil }
        self = match
    }

    /// kubectl's `resource.group` spelling, as `apply` prints it (`virtualdestination.networking...`).
    public var qualifiedName: String { "\(singular).\(group)" }

    /// The order kinds sort in (declaration order).
    public static func < (a: ResourceKind, b: ResourceKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The identity of a stored object: kind, namespace and name.
public struct ObjectKey: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The object's kind.
    public var kind: ResourceKind
    /// `metadata.namespace`.
    public var namespace: String
    /// `metadata.name`.
    public var name: String

    /// Creates a key.
    public init(kind: ResourceKind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// The mesh-wide key string statuses use: `name.namespace.` (skv2 style).
    public var meshKey: String { "\(name).\(namespace)." }

    /// `kind namespace/name`, as messages say it.
    public var description: String { "\(kind.singular) \(namespace)/\(name)" }

    public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
        (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name)
    }
}
