import EventLog
import Foundation
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore

/// A JSON response.
func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    var bytes = JSONText.canonical(value)
    bytes.append(UInt8(ascii: "\n"))
    return Response(
        status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// An error response: `{"error": "...", "code": "..."}`.
func errorResponse(_ status: HTTPResponse.Status, _ message: String, code: String) -> Response {
    json(["error": .string(message), "code": .string(code)], status: status)
}

/// The one mapping from every layer's errors to an answer: status code, reason (kube-apiserver's
/// `StatusReason`), message, and what a client needs to retry or to find the field. `/v1` renders it
/// as `{"error", "code"}`, the Kubernetes API as a `Status`; both read it here, so they cannot
/// disagree on what an error means.
struct MappedError: Error {
    let code: Int
    let reason: String
    let message: String
    var details: JSONValue? = nil
    /// Seconds after which a retry may succeed (`Retry-After`).
    var retryAfter: Int? = nil

    /// The answer for `error`, or nil for an error no layer raises on purpose (a bug: 500).
    static func of(_ error: any Error, path: String) -> MappedError? {
        switch error {
        case let error as MappedError: return error
        case let error as KubeError:
            return MappedError(code: error.code, reason: error.reason, message: error.message, details: error.details)
        case let error as LogError:
            switch error.code {
            case .conflict: return MappedError(code: 409, reason: "Conflict", message: error.message)
            case .notFound: return MappedError(code: 404, reason: "NotFound", message: error.message)
            case .invalidBatch: return MappedError(code: 400, reason: "BadRequest", message: error.message)
            case .forbidden: return MappedError(code: 422, reason: "Invalid", message: error.message)
            case .unavailable:
                return MappedError(code: 503, reason: "ServiceUnavailable", message: error.message, retryAfter: 1)
            case .tooLarge: return MappedError(code: 413, reason: "RequestEntityTooLarge", message: error.message)
            default: return MappedError(code: 500, reason: "InternalError", message: error.message)
            }
        case let error as ManifestError:
            switch error.code {
            case .tooLarge: return MappedError(code: 413, reason: "RequestEntityTooLarge", message: error.description)
            case .schema, .unknownKind: return MappedError(code: 422, reason: "Invalid", message: error.description)
            default: return MappedError(code: 400, reason: "BadRequest", message: error.description)
            }
        case let error as FieldValidation.Refusal:
            return MappedError(code: 400, reason: "BadRequest", message: error.description)
        case let error as InvalidRequest:
            return MappedError(code: 400, reason: "BadRequest", message: error.message)
        case let error as APIError:
            return MappedError(code: Int(error.status.code), reason: error.code, message: error.message)
        case let error as PositionAhead:
            return MappedError(
                code: 504, reason: "Timeout", message: error.message,
                details: [
                    "causes": [["reason": "ResourceVersionTooLarge", "message": "Too large resource version"]],
                    "retryAfterSeconds": 1,
                ], retryAfter: 1)
        case let error as HTTPError where error.status == .notFound && !path.hasPrefix("/v1/"):
            // No route: outside /v1 this is a Kubernetes API server, which answers with a Status.
            return MappedError(
                code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                details: .object(JSONObject()))
        case let error as HTTPError:
            return MappedError(
                code: Int(error.status.code), reason: error.status.reasonPhrase.replacingOccurrences(of: " ", with: ""),
                message: error.body ?? error.status.reasonPhrase)
        default:
            return nil
        }
    }

    /// The Kubernetes `Status`.
    var kubeStatus: Response {
        var response = kubeJSON(
            KubeError(code: code, reason: reason, message: message, details: details).status, status: .init(code: code))
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    /// `/v1`'s shape, `{"error": message, "code": reason}`; outside `/v1` (a path no route has) a
    /// Status, as the Kubernetes API server that answers there.
    func v1(path: String) -> Response {
        if !path.hasPrefix("/v1/") && code == 404 && reason == "NotFound" && details != nil { return kubeStatus }
        var response = errorResponse(.init(code: code), message, code: code == 500 ? "StorageError" : reason)
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }
}

/// Turns domain errors into answers through the one mapping (`MappedError`): `/v1`'s shape, or
/// (`kubernetes`, on the Kubernetes routes) a Status. Only this module knows about HTTP.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    var kubernetes = false

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            guard let mapped = MappedError.of(error, path: request.uri.path) else { throw error }
            return kubernetes ? mapped.kubeStatus : mapped.v1(path: request.uri.path)
        }
    }
}

/// A request names a position of the log beyond its head (a resourceVersion or `from` not yet
/// reached after waiting): 504, as kube-apiserver's "Too large resource version".
struct PositionAhead: Error {
    let requested: UInt64
    let head: UInt64

    var message: String { "Too large resource version: \(requested), current: \(head)" }
}

/// An error the API reports itself.
struct APIError: Error {
    let status: HTTPResponse.Status
    let message: String
    let code: String
}
