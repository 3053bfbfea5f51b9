import Hummingbird
import NIOCore
import Synchronization

/// Cancels a read when its HTTP/2 stream goes away (reset by the client, or its connection
/// closed): the long reads (a time-travel projection, a history, an audit scan) check for
/// cancellation as they go, so streams opened and reset cost what they read until the reset, not
/// a full replay each. Writes are not cancelled (a write the writer has taken is committed or
/// refused whole), nor HTTP/1 requests (their connection outlives the request: cancelling on its
/// close would keep a callback per request until then).
struct CancellationMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .get, let stream = context.channel, stream.parent != nil, stream.isActive else {
            return try await next(request, context)
        }
        let canceller = RequestCanceller(withUnsafeCurrentTask { $0 })
        stream.closeFuture.whenComplete { _ in canceller.cancel() }
        defer { canceller.finish() }
        return try await next(request, context)
    }
}

/// Cancels the task of a request from another thread, only while the request runs: the task is
/// held under a lock and dropped (under the same lock) before the request's handler returns, so it
/// is never touched once it may be gone.
final class RequestCanceller: Sendable {
    private struct Held: @unchecked Sendable {
        // @unchecked Sendable: used only under `task`'s lock, while the request's task runs.
        var task: UnsafeCurrentTask?
    }

    private let task: Mutex<Held>

    init(_ task: UnsafeCurrentTask?) { self.task = Mutex(Held(task: task)) }

    /// Cancels the request's task if it still runs.
    func cancel() { task.withLock { $0.task?.cancel() } }

    /// The request is done: later calls of `cancel` do nothing.
    func finish() { task.withLock { $0.task = nil } }
}
