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

/// Turns domain errors into HTTP responses; only this module knows about HTTP.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as LogError {
            switch error.code {
            case .conflict: return errorResponse(.conflict, error.message, code: "Conflict")
            case .notFound: return errorResponse(.notFound, error.message, code: "NotFound")
            case .invalidBatch: return errorResponse(.badRequest, error.message, code: "BadRequest")
            case .forbidden: return errorResponse(.unprocessableContent, error.message, code: "Invalid")
            case .unavailable:
                var response = errorResponse(.serviceUnavailable, error.message, code: "ServiceUnavailable")
                response.headers[.retryAfter] = "1"
                return response
            case .tooLarge: return errorResponse(.contentTooLarge, error.message, code: "RequestEntityTooLarge")
            default: return errorResponse(.internalServerError, error.message, code: "StorageError")
            }
        } catch let error as ManifestError {
            if error.code == .tooLarge {
                return errorResponse(.contentTooLarge, error.description, code: "RequestEntityTooLarge")
            }
            return errorResponse(.badRequest, error.description, code: "BadRequest")
        } catch let error as InvalidRequest {
            return errorResponse(.badRequest, error.message, code: "BadRequest")
        } catch let error as FieldValidation.Refusal {
            return errorResponse(.badRequest, error.description, code: "BadRequest")
        } catch let error as APIError {
            return errorResponse(error.status, error.message, code: error.code)
        } catch let error as PositionAhead {
            var response = errorResponse(.gatewayTimeout, error.message, code: "Timeout")
            response.headers[.retryAfter] = "1"
            return response
        } catch let error as HTTPError where error.status == .notFound && !request.uri.path.hasPrefix("/v1/") {
            // No route: outside /v1 this is a Kubernetes API server, which answers with a Status.
            let status = KubeError(
                code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                details: .object(JSONObject()))
            return kubeJSON(status.status, status: .notFound)
        } catch let error as HTTPError {
            return errorResponse(error.status, error.body ?? error.status.reasonPhrase, code: "\(error.status.code)")
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
