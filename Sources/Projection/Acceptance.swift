public import MeshModel

/// Which VirtualDestinations are accepted on one mesh, in the order they were first accepted,
/// and which are blocked by a hostname an earlier one holds (docs/domain.md 4.4).
public struct MeshAcceptance: Sendable, Hashable {
    /// One accepted VirtualDestination.
    public struct Entry: Sendable, Hashable {
        /// The VirtualDestination.
        public var virtualDestination: ObjectRef
        /// The sequence at which it was accepted on this mesh (kept while it stays accepted).
        public var acceptedAt: UInt64
        /// The hostname it holds.
        public var hostname: String
    }

    /// A VirtualDestination that could be accepted on the mesh.
    public struct Candidate: Sendable, Hashable {
        /// The VirtualDestination.
        public var virtualDestination: ObjectRef
        /// Its hostname.
        public var hostname: String
        /// The sequence of its last change (orders new candidates: earlier wins).
        public var lastSequence: UInt64
    }

    /// Accepted VirtualDestinations, by `acceptedAt`: the index is the acceptanceOrder.
    public private(set) var accepted: [Entry] = []
    /// Blocked candidates and the VirtualDestination holding their hostname.
    public private(set) var blocked: [ObjectRef: ObjectRef] = [:]
    /// The index of each accepted VirtualDestination in `accepted`.
    private var positions: [ObjectRef: Int] = [:]
    /// Accepted VirtualDestinations that share their VIP with others accepted here, and those
    /// others (derived from `accepted`).
    private var sharedVIPs: [ObjectRef: [ObjectRef]] = [:]

    /// No VirtualDestination accepted.
    public init() {}

    /// A state restored from a snapshot.
    init(accepted: [Entry], blocked: [ObjectRef: ObjectRef]) {
        self.accepted = accepted
        self.blocked = blocked
        for (index, entry) in accepted.enumerated() { positions[entry.virtualDestination] = index }
        indexVIPs()
    }

    /// The VIP of a VirtualDestination (docs/domain.md 4.5).
    static func vip(of vd: ObjectRef) -> String {
        virtualIP(name: vd.name, namespace: vd.namespace, cluster: "", scope: "local-resource")
    }

    /// Finds the accepted VirtualDestinations whose VIPs are equal: the hash concatenates name and
    /// namespace (`ab`/`c` and `a`/`bc`), and 28 bits collide by chance in large fleets.
    private mutating func indexVIPs() {
        var byVIP: [String: [ObjectRef]] = [:]
        for entry in accepted {
            byVIP[MeshAcceptance.vip(of: entry.virtualDestination), default: []].append(entry.virtualDestination)
        }
        sharedVIPs = [:]
        for (_, refs) in byVIP where refs.count > 1 {
            for vd in refs { sharedVIPs[vd] = refs.filter { $0 != vd }.sorted() }
        }
    }

    public static func == (a: MeshAcceptance, b: MeshAcceptance) -> Bool {
        a.accepted == b.accepted && a.blocked == b.blocked
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(accepted)
        hasher.combine(blocked)
    }

    /// The acceptanceOrder of a VirtualDestination, if accepted.
    public func order(of vd: ObjectRef) -> Int? { positions[vd] }

    /// The next state given every current candidate on the mesh, at event `sequence`.
    ///
    /// Accepted candidates keep their place; where two of them now share a hostname the earlier
    /// keeps it. The others are taken in (last change, name) order: accepted at `sequence` if their
    /// hostname is free, else blocked by its holder.
    public func resolved(candidates: [Candidate], at sequence: UInt64) -> MeshAcceptance {
        var byVD: [ObjectRef: Candidate] = [:]
        for candidate in candidates { byVD[candidate.virtualDestination] = candidate }
        var next = MeshAcceptance()
        var holder: [String: ObjectRef] = [:]
        for entry in accepted {
            guard let candidate = byVD[entry.virtualDestination] else { continue }
            if let taken = holder[candidate.hostname] {
                next.blocked[candidate.virtualDestination] = taken
                continue
            }
            holder[candidate.hostname] = candidate.virtualDestination
            next.positions[entry.virtualDestination] = next.accepted.count
            next.accepted.append(
                Entry(
                    virtualDestination: entry.virtualDestination, acceptedAt: entry.acceptedAt,
                    hostname: candidate.hostname))
        }
        let keptVDs = Set(next.accepted.map(\.virtualDestination))
        let rest = candidates.filter { !keptVDs.contains($0.virtualDestination) }
            .sorted { ($0.lastSequence, $0.virtualDestination) < ($1.lastSequence, $1.virtualDestination) }
        for candidate in rest {
            if let taken = holder[candidate.hostname] {
                next.blocked[candidate.virtualDestination] = taken
            } else {
                next.blocked[candidate.virtualDestination] = nil
                holder[candidate.hostname] = candidate.virtualDestination
                next.positions[candidate.virtualDestination] = next.accepted.count
                next.accepted.append(
                    Entry(
                        virtualDestination: candidate.virtualDestination, acceptedAt: sequence,
                        hostname: candidate.hostname))
            }
        }
        next.indexVIPs()
        return next
    }

    /// The outcome for one VirtualDestination: accepted (with its order), blocked (by whom), or
    /// neither (not a candidate).
    public func outcome(of vd: ObjectRef) -> Outcome {
        if let order = order(of: vd) { return .accepted(order: order, sharingVIP: sharedVIPs[vd] ?? []) }
        if let holder = blocked[vd] { return .blocked(by: holder) }
        return .notCandidate
    }

    /// The outcome for one VirtualDestination on a mesh.
    public enum Outcome: Sendable, Hashable {
        /// Accepted, with its acceptanceOrder and the others accepted on the mesh with its VIP.
        case accepted(order: Int, sharingVIP: [ObjectRef])
        case blocked(by: ObjectRef)
        case notCandidate

        /// The errors and warnings it gives the mesh entry of `vd` with `hostname`: one place
        /// for the status and `explain`.
        public func issues(of vd: ObjectRef, hostname: String?) -> (errors: [Issue], warnings: [Issue]) {
            let vdKey = vd.objectKey(.virtualDestination)
            switch self {
            case .accepted(_, let others):
                let vip = MeshAcceptance.vip(of: vd)
                return (
                    [],
                    others.map { other in
                        Issue(
                            "VIP \(vip) is also the VIP of VirtualDestination \(other), accepted on this mesh",
                            [vdKey, other.objectKey(.virtualDestination)])
                    }
                )
            case .blocked(let holder):
                return (
                    [
                        Issue(
                            "Hostname \(hostname ?? "") is already used by VirtualDestination \(holder), accepted earlier",
                            [vdKey, holder.objectKey(.virtualDestination)])
                    ], []
                )
            case .notCandidate: return ([], [])
            }
        }
    }
}
