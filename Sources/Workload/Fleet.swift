import Foundation

/// Manifest builders (YAML) for small fleets: meshes, services, VirtualMeshes, TrafficPolicies and
/// VirtualDestinations, and a base fleet of three clusters grouped by a VirtualMesh.
public enum Fleet {
    public static func mesh(_ cluster: String, region: String, gateway: String? = nil) -> String {
        let gateways =
            gateway.map {
                "\n    ingressGateways:\n    - {externalAddress: \($0), externalTlsPort: 15443, tlsContainerPort: 15443}"
            } ?? ""
        return """
            apiVersion: discovery.mesh.gloo.solo.io/v1alpha2
            kind: Mesh
            metadata: {name: istiod-istio-system-\(cluster), namespace: gloo-mesh}
            spec:
              istio:
                installation: {namespace: istio-system, cluster: \(cluster), region: \(region)}\(gateways)
            """
    }

    public static func destination(
        _ service: String, _ cluster: String, region: String = "", zone: String = "", labels: String = "{}",
        port: Int = 9080
    ) -> String {
        """
        apiVersion: discovery.mesh.gloo.solo.io/v1alpha2
        kind: Destination
        metadata: {name: \(service)-bookinfo-\(cluster), namespace: gloo-mesh}
        spec:
          mesh: {name: istiod-istio-system-\(cluster), namespace: gloo-mesh}
          kubeService:
            ref: {name: \(service), namespace: bookinfo, clusterName: \(cluster)}
            labels: \(labels)
            region: \(region)
            ports: [{port: \(port), name: http, protocol: TCP}]
            endpointSubsets: [{endpoints: [{ipAddress: 10.0.0.1, subLocality: {zone: "\(zone)"}}]}]
        """
    }

    public static func virtualMesh(_ name: String = "federation", meshes: [String], suffix: String? = nil) -> String {
        let list = meshes.map { "{name: istiod-istio-system-\($0), namespace: gloo-mesh}" }.joined(separator: ", ")
        let federation = suffix.map { "\n  federation: {hostnameSuffix: \($0)}" } ?? ""
        return """
            apiVersion: networking.mesh.gloo.solo.io/v1alpha2
            kind: VirtualMesh
            metadata: {name: \(name), namespace: gloo-mesh}
            spec:
              meshes: [\(list)]\(federation)
            """
    }

    public static func outlierPolicy(
        _ name: String = "outlier", labels: String = "{}", consecutiveErrors: Int = 3
    ) -> String {
        trafficPolicy(
            name, labels: labels, policy: "outlierDetection: {consecutiveErrors: \(consecutiveErrors), interval: 5s}")
    }

    /// A TrafficPolicy without outlier detection (retries only).
    public static func retryPolicy(_ name: String, labels: String = "{}", attempts: Int = 3) -> String {
        trafficPolicy(name, labels: labels, policy: "retries: {attempts: \(attempts), perTryTimeout: 1s}")
    }

    /// A TrafficPolicy selecting Destinations by labels, with one policy field (a YAML flow line).
    static func trafficPolicy(_ name: String, labels: String, policy: String) -> String {
        """
        apiVersion: networking.mesh.gloo.solo.io/v1alpha2
        kind: TrafficPolicy
        metadata: {name: \(name), namespace: gloo-mesh}
        spec:
          destinationSelector: [{kubeServiceMatcher: {labels: \(labels)}}]
          policy:
            \(policy)
        """
    }

    public static func staticVD(
        _ name: String, hostname: String? = nil, port: String = "{number: 9080, protocol: http}",
        export: String = "virtualMesh: {name: federation, namespace: gloo-mesh}", backing: [String]
    ) -> String {
        let list = backing.map {
            "    - kubeService: {name: \($0.split(separator: "@")[0]), namespace: bookinfo, clusterName: \($0.split(separator: "@")[1])}"
        }
        let destinations = list.isEmpty ? "    destinations: []" : "    destinations:\n" + list.joined(separator: "\n")
        return """
            apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
            kind: VirtualDestination
            metadata: {name: \(name), namespace: bookinfo}
            spec:
              hostname: \(hostname ?? "\(name).global")
              port: \(port)
              \(export)
              static:
            \(destinations)
            """
    }

    public static func localizedVD(
        _ name: String, hostname: String? = nil, labels: String, outlier: Bool = true,
        export: String = "virtualMesh: {name: federation, namespace: gloo-mesh}"
    ) -> String {
        """
        apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
        kind: VirtualDestination
        metadata: {name: \(name), namespace: bookinfo}
        spec:
          hostname: \(hostname ?? "\(name).global")
          port: {number: 9080, protocol: HTTP}
          \(export)
          localized:
            destinationSelectors: [{kubeServiceMatcher: {labels: \(labels)}}]
            failoverDirectives:
            - from: {region: us-east-1}
              to: [{region: us-west-2}, {region: eu-west-1}]\(outlier ? "\n    outlierDetection: {consecutiveErrors: 2}" : "")
        """
    }

    /// Three clusters with gateways, reviews in all three, ratings in 1 and 3, grouped, with an
    /// outlier policy for everything.
    public static let base = [
        mesh("cluster-1", region: "us-east-1", gateway: "gw1.example.com"),
        mesh("cluster-2", region: "us-west-2", gateway: "gw2.example.com"),
        mesh("cluster-3", region: "eu-west-1", gateway: "gw3.example.com"),
        destination("reviews", "cluster-1", region: "us-east-1", zone: "us-east-1a", labels: "{app: reviews}"),
        destination("reviews", "cluster-2", region: "us-west-2", labels: "{app: reviews}"),
        destination("reviews", "cluster-3", region: "eu-west-1", labels: "{app: reviews}"),
        destination("ratings", "cluster-1", region: "us-east-1", labels: "{app: ratings}"),
        destination("ratings", "cluster-3", region: "eu-west-1", labels: "{app: ratings}"),
        virtualMesh(meshes: ["cluster-1", "cluster-2", "cluster-3"]),
        outlierPolicy(),
    ].joined(separator: "\n---\n")
}
