import Crypto
import MeshLedgerTesting

/// SHA-256 for tests that forge records.
enum SHA256Check {
    static func hash(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
}
