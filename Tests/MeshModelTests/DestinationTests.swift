import Testing
import Workload

@testable import MeshModel

@Suite("Destination: equality and hashing by value")
struct DestinationTests {
    static func destination(labels: String = "{app: reviews}", zone: String = "us-east-1a") throws -> Destination {
        let text = Fleet.destination("reviews", "cluster-1", region: "us-east-1", zone: zone, labels: labels)
        return Destination(object: try read(text)[0].object)
    }

    @Test("two Destinations read from the same object are equal and hash alike; any field differing makes them differ")
    func equalityIsByValue() throws {
        let a = try Self.destination()
        let b = try Self.destination()  // read separately: not the same storage
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
        let copy = a
        #expect(copy == a)
        #expect(a.labels == ["app": "reviews"] && a.zone == "us-east-1a" && a.service.clusterName == "cluster-1")
        #expect(try Self.destination(labels: "{app: ratings}") != a)
        #expect(try Self.destination(zone: "us-east-1b") != a)
        #expect(Set([a, try Self.destination(zone: "us-east-1b")]).count == 2)
    }
}
