import Synchronization

/// One open watch stream's slot: who holds it, and whether the server has asked it to end (to
/// make room for a caller that holds fewer slots, or at shutdown).
final class WatchSlot: Sendable {
    /// The user holding it.
    let holder: String
    /// Set when the stream should end at its next wake (it ends with a bookmark to resume from).
    private let ended = Atomic<Bool>(false)

    init(holder: String) { self.holder = holder }

    /// Whether the stream was asked to end.
    var isEnded: Bool { ended.load(ordering: .relaxed) }

    /// Asks the stream to end.
    func end() { ended.store(true, ordering: .relaxed) }
}

/// The watch slots of a server, shared fairly between callers: up to `limit` streams are open at
/// once; when every slot is taken, a caller holding fewer slots than the largest holder takes the
/// oldest slot of that holder (whose stream ends with a bookmark, and resumes as every client
/// does), and a caller holding as many is refused (429). So no caller can lock the others out,
/// however many streams it opens or leaves idle.
struct WatchSlots {
    /// Most slots at once.
    let limit: Int
    /// Open slots, oldest first.
    private(set) var open: [WatchSlot] = []

    init(limit: Int) { self.limit = limit }

    /// A slot for `holder`, or nil when every slot is taken by callers holding no more than it.
    mutating func take(for holder: String) -> WatchSlot? {
        guard limit > 0 else { return nil }
        if open.count >= limit {
            var counts: [String: Int] = [:]
            for slot in open { counts[slot.holder, default: 0] += 1 }
            let mine = counts[holder] ?? 0
            // The largest holder (ties: the name, so the choice does not depend on hashing).
            guard let (largest, count) = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }),
                count > mine + 1
            else { return nil }
            let index = open.firstIndex { $0.holder == largest }!
            open.remove(at: index).end()
        }
        let slot = WatchSlot(holder: holder)
        open.append(slot)
        return slot
    }

    /// Gives a slot back (its stream ended).
    mutating func release(_ slot: WatchSlot) {
        open.removeAll { $0 === slot }
    }
}
