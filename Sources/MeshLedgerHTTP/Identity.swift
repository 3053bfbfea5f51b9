import MeshModel

/// Who is asking: the authenticated user and groups (Kubernetes' user info).
public struct Identity: Sendable, Hashable {
    /// The user name recorded as the actor of every event the request writes.
    public var user: String
    /// The user's groups (recorded with the actor).
    public var groups: [String]

    /// Creates an identity.
    public init(user: String, groups: [String] = []) {
        self.user = user
        self.groups = groups
    }

    /// The identity of a request when no authentication is configured.
    public static let anonymous = Identity(user: "system:anonymous", groups: [unauthenticatedGroup])

    /// The group of every authenticated identity (kube's `system:authenticated`).
    public static let authenticatedGroup = "system:authenticated"
    /// The group of the anonymous identity.
    public static let unauthenticatedGroup = "system:unauthenticated"
    /// Members may do anything, whatever the policy says (kube's `system:masters`).
    public static let privilegedGroup = "system:masters"
    /// Recorded among an event's groups, followed by the user who impersonated its actor.
    public static let impersonatorPrefix = Event.impersonatorGroupPrefix

    /// The identity with `system:authenticated` among its groups, as kube's authenticators add it
    /// (unless it already names either group).
    var authenticated: Identity {
        if groups.contains(Self.authenticatedGroup) || groups.contains(Self.unauthenticatedGroup) { return self }
        return Identity(user: user, groups: groups + [Self.authenticatedGroup])
    }
}
