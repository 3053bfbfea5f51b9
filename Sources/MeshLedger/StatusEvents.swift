public import MeshModel
import Projection

/// Events from history: each transition of a VirtualDestination's derived status, as a
/// Kubernetes Event would report it (reason, type, message naming the log event that caused
/// it). The Kubernetes API serves them as `v1` and `events.k8s.io/v1` Events, read-only, so
/// `kubectl describe vd` and `kubectl events --for vd/NAME` show why a status changed, at any
/// point of the log. No Kubernetes store can say that after the fact; here it is a fold of the log.
public struct StatusEvent: Sendable {
    /// The VirtualDestination.
    public var virtualDestination: ObjectRef
    /// Its uid in the life the transition belongs to (as its served `metadata.uid`).
    public var uid: String
    /// The transition.
    public var transition: StatusTransition

    /// The sequence of the log event that caused it.
    public var sequence: UInt64 { transition.cause.sequence }

    /// A unique, stable name: the VirtualDestination's and the causing sequence.
    public var name: String { "\(virtualDestination.name).\(sequence)" }

    /// The event's own uid: stable, from its name.
    public var eventUID: String {
        Store.uid(
            of: ObjectKey(kind: .virtualDestination, namespace: virtualDestination.namespace, name: name),
            createdAt: sequence)
    }

    /// Why, in one CamelCase word (`StatusTransition.reason`).
    public var reason: String { transition.reason }

    /// `Warning` when the VirtualDestination is left with errors or not accepted, else `Normal`.
    public var type: String {
        guard let after = transition.after else { return "Normal" }
        return after.state == ApprovalState.accepted.rawValue && after.errors.isEmpty ? "Normal" : "Warning"
    }

    /// What changed and what caused it: `state: PENDING → ACCEPTED; selected +reviews.bookinfo.cluster-1
    /// (event 42: upsert Destination gloo-mesh/reviews by agent-cluster-1)`, at most 1024 bytes.
    public var message: String {
        let text = "\(transition.changes.joined(separator: "; ")) (\(transition.causeDescription))"
        guard text.utf8.count > 1024 else { return text }
        return String(decoding: Array(text.utf8.prefix(1021)), as: UTF8.self) + "..."
    }

    /// The time of the causing event.
    public var time: Timestamp { transition.cause.recordedAt }
}

extension StatusTransition {
    /// Why, in one CamelCase word: the new state (`Accepted`, `Invalid`, `Pending`, `Failed`),
    /// `Deleted`, or `StatusChanged` when the state stayed and something else changed.
    public var reason: String {
        guard let after else { return "Deleted" }
        if let before, before.state == after.state { return "StatusChanged" }
        return after.state.lowercased().split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined()
    }
}

extension Store {
    /// The status events of the VirtualDestinations in `namespace` (all when nil), of the one
    /// named `name` when given, up to `until` (the head when nil), oldest first.
    public func statusEvents(namespace: String?, name: String? = nil, until: UInt64? = nil) throws -> [StatusEvent] {
        try transitions(
            of: { (namespace == nil || $0.namespace == namespace) && (name == nil || $0.name == name) }, until: until
        ).map { selected in
            let vd = selected.virtualDestination
            let key = ObjectKey(kind: .virtualDestination, namespace: vd.namespace, name: vd.name)
            return StatusEvent(
                virtualDestination: vd, uid: Store.uid(of: key, createdAt: selected.createdAt),
                transition: selected.transition)
        }
    }
}
