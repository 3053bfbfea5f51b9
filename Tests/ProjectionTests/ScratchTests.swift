import EventLog
import MeshModel
import Testing

@testable import Projection

@Test func scratch() throws {
    let ledger = try Ledger()
    try ledger.apply(Fleet.base)
    try ledger.apply(
        Fleet.staticVD("reviews-global", backing: ["reviews@cluster-1", "reviews@cluster-2", "reviews@cluster-9"]))
    try ledger.apply(Fleet.localizedVD("ratings-global", labels: "{app: ratings}"))
    let p = ledger.project()
    print(JSONText.string(p.status("reviews-global")!, pretty: true))
    print(JSONText.string(p.status("ratings-global")!, pretty: true))
    for o in p.outputObjects where o.key.cluster == "cluster-1" { print(JSONText.string(o.manifest, pretty: true)) }
}
