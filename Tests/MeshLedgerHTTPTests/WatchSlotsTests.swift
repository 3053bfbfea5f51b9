import Testing

@testable import MeshLedgerHTTP

/// Watch slots are shared fairly: no caller can lock the others out by opening every slot.
@Suite struct WatchSlotsTests {
    @Test func aCallerHoldingFewerTakesTheOldestSlotOfTheLargestHolder() throws {
        var slots = WatchSlots(limit: 4)
        var hog: [WatchSlot] = []
        for _ in 0..<4 { if let slot = slots.take(for: "hog") { hog.append(slot) } }
        #expect(hog.count == 4)
        // Full: the hog gets no fifth, another caller takes the hog's oldest.
        let fifth = slots.take(for: "hog")
        #expect(fifth == nil)
        let taken = slots.take(for: "alice")
        let fair = try #require(taken)
        #expect(hog[0].isEnded && !hog[1].isEnded)
        #expect(slots.open.count == 4)
        // 3 hog, 1 alice: bob takes one of the hog's; alice (1) taking from the hog (2) would not
        // be fairer; carol (0) takes the hog's last but one; then everyone holds one.
        let bob = slots.take(for: "bob")
        #expect(bob != nil && hog[1].isEnded)
        let second = slots.take(for: "alice")
        #expect(second == nil)
        let carol = slots.take(for: "carol")
        #expect(carol != nil && hog[2].isEnded && !hog[3].isEnded)
        let dave = slots.take(for: "dave")
        #expect(dave == nil)
        slots.release(fair)
        #expect(!fair.isEnded && slots.open.count == 3)
        let daveAgain = slots.take(for: "dave")
        #expect(daveAgain != nil, "a slot given back is free for anyone")
    }

    @Test func noSlotsMeansNoWatches() {
        var slots = WatchSlots(limit: 0)
        let slot = slots.take(for: "anyone")
        #expect(slot == nil)
    }
}
