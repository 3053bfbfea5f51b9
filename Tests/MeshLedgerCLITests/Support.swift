import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Testing

/// `stats -o json` of the store at `path`, read by the binary read-only (so no environment stays
/// open here, and a store another process writes can be read); null when there is no store.
func stats(of store: String) throws -> JSONValue {
    let result = try meshledger(["stats", "--store", store, "-o", "json", "--read-only"])
    guard result.status == 0 else { return .null }
    return try JSONText.parse(Array(result.stdout.utf8))
}

/// The head of the store at `path` (0 when there is none).
func head(of store: String) throws -> UInt64 {
    UInt64(try stats(of: store)["head"]?.intValue ?? 0)
}

/// The state digest of the store at `path` (nil when there is none).
func stateDigest(of store: String) throws -> String? {
    try stats(of: store)["stateDigest"]?.stringValue
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
