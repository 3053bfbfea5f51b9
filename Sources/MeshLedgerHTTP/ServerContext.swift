import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage plus the caller's identity,
/// set by the authentication middleware (nil until then), and the connection it came on.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller the request runs as (the impersonated identity when it impersonates).
    public var identity: Identity?
    /// The authenticated caller when it impersonates `identity` (nil otherwise).
    public var impersonator: Identity?
    /// The connection (for the client certificate of a TLS connection).
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
