import Foundation
import MeshLedgerTesting
import Testing

/// `kubectl explain` of the derived Istio outputs: `/openapi/v3` serves `networking.istio.io/v1alpha3`
/// with Istio's own schemas.
@Suite(.serialized) struct ExplainOutputsTests {
    @Test func kubectlExplainsServiceEntriesAndDestinationRules() throws {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")
        let hosts = try fx.kubectl(alice, ["explain", "serviceentries.spec.hosts"])
        #expect(hosts.status == 0, "\(hosts.stderr)")
        #expect(hosts.stdout.contains("GROUP:      networking.istio.io"), "\(hosts.stdout)")
        #expect(hosts.stdout.contains("FIELD: hosts <[]string>"), "\(hosts.stdout)")
        let outlier = try fx.kubectl(alice, ["explain", "destinationrules.spec.trafficPolicy.outlierDetection"])
        #expect(outlier.status == 0 && outlier.stdout.contains("consecutive5xxErrors"), "\(outlier.stderr)")
        let filter = try fx.kubectl(alice, ["explain", "envoyfilters.spec", "--recursive"])
        #expect(filter.status == 0 && filter.stdout.contains("configPatches"), "\(filter.stderr)")
        // A field the schema does not have is kubectl's error, as for any kind.
        let none = try fx.kubectl(alice, ["explain", "serviceentries.spec.nothing"])
        #expect(none.status != 0 && none.stderr.contains("nothing"), "\(none.stdout)")
    }
}
