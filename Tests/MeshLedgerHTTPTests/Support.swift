import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerTesting
import MeshModel
import NIOCore
import Testing

/// A response read whole: status and body text, and the body as JSON when it is JSON.
struct Answer: Sendable {
    let status: Int
    let text: String
    var json: JSONValue { (try? JSONText.parse(Array(text.utf8))) ?? .null }
}

/// Runs `body` against the server's application in process (Hummingbird's router test
/// framework: no socket), over `store`.
func withServer<T: Sendable>(
    _ store: Store, configuration: ServerConfiguration = ServerConfiguration(),
    _ body: @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
    let (app, stop, _) = try MeshLedgerServer(store: store, configuration: configuration).makeApplication()
    let result = try await app.test(.router, body)
    await stop()
    return result
}

extension TestClientProtocol {
    /// One request, its answer read whole.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, body: String? = nil, headers: HTTPFields = [:]
    ) async throws -> Answer {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
            Answer(status: Int($0.status.code), text: String(buffer: $0.body))
        }
    }
}

/// The example fleet's files.
let fleet = packageRoot + "/Examples/fleet"

/// A file's text.
func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

/// A store holding the example fleet's discovery and user objects, written through the use cases.
func fleetStore(_ name: String = #function) throws -> Store {
    let store = try temporaryStore(name)
    var discovered: [Manifest] = []
    for cluster in ["cluster-1", "cluster-2", "cluster-3"] {
        discovered += try ManifestReader.manifests(
            Array(try text("\(fleet)/discovery/\(cluster).yaml").utf8), name: cluster)
    }
    _ = try store.append(Batch.discover(discovered, agent: "discovery"), clock: fixedClock())
    var user: [Manifest] = []
    for file in ["virtualmesh", "trafficpolicies", "virtualdestinations"] {
        user += try ManifestReader.manifests(Array(try text("\(fleet)/user/\(file).yaml").utf8), name: file)
    }
    _ = try store.append(Batch.apply(user, actor: "platform"), clock: fixedClock(start: 1_800_000_100_000_000))
    return store
}

/// A VirtualDestination in bookinfo, exported to the example VirtualMesh, backed by cluster-1's reviews.
func virtualDestinationYAML(_ name: String, hostname: String) -> String {
    """
    apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
    kind: VirtualDestination
    metadata: {name: \(name), namespace: bookinfo}
    spec:
      hostname: \(hostname)
      port: {number: 9080, protocol: HTTP}
      virtualMesh: {name: bookinfo-federation, namespace: gloo-mesh}
      static:
        destinations:
        - kubeService: {name: reviews, namespace: bookinfo, clusterName: cluster-1}
    """
}
