import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import Testing

/// The head of the store at `path`, read by the binary (so no environment stays open here).
func head(of store: String) throws -> UInt64 {
    let result = try meshledger(["stats", "--store", store, "-o", "json"])
    guard result.status == 0, let data = result.stdout.data(using: .utf8),
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let head = object["head"] as? Int
    else { return 0 }
    return UInt64(head)
}

/// Writes `text` to a new file in `directory` and returns its path.
func write(_ text: String, to directory: String, name: String) throws -> String {
    let path = "\(directory)/\(name)"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// A VirtualDestination manifest (YAML) for generated batches.
func virtualDestinationYAML(_ name: String, port: Int = 9080) -> String {
    """
    apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
    kind: VirtualDestination
    metadata:
      name: \(name)
      namespace: bookinfo
    spec:
      hostname: \(name).global
      port: {number: \(port), protocol: HTTP}
      virtualMesh: {name: bookinfo-federation, namespace: gloo-mesh}
      static:
        destinations:
        - kubeService: {name: reviews, namespace: bookinfo, clusterName: cluster-1}
    """
}
