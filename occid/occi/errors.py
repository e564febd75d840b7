# -*- test-case-name: tests.test_web_status -*-
"""
The OCCI error hierarchy: each error carries the HTTP status it is answered with.

This is the only mapping from situations to statuses (the status table of
docs/status.md).  Every layer raises these; the web layer renders them in the
negotiated media type.  The message is shown to the client, so it must say what
went wrong and, where it helps, what to do; it never holds secrets.
"""


class OCCIError(Exception):
    """
    An error answered to the client with C{status} and C{message}.

    @ivar status: the HTTP status code.
    @ivar message: one human-readable sentence for the client.
    @ivar headers: extra response headers, as (name, value) pairs.
    """

    status = 500

    def __init__(self, message: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.message = message
        self.headers = tuple(headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(OCCIError):
    """Malformed request, unknown category, unknown action, bad attribute value."""

    status = 400


class Unauthorized(OCCIError):
    """No or invalid client certificate chain, or an expired principal."""

    status = 401


class Forbidden(OCCIError):
    """
    No account for the principal, limited-proxy write, mixin not applicable to
    the kind, write to an immutable attribute.
    """

    status = 403


class NotFound(OCCIError):
    """Unknown path or entity, or an entity of another user (never 403)."""

    status = 404


class MethodNotAllowed(OCCIError):
    """The method is not allowed on this path; C{allowed} lists those that are."""

    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]):
        super().__init__(message, headers=(("Allow", ", ".join(allowed)),))
        self.allowed = tuple(allowed)


class NotAcceptable(OCCIError):
    """Nothing in C{Accept} can be rendered, or sent in a coding C{Accept-Encoding} allows."""

    status = 406


class RequestTimeout(OCCIError):
    """A request head (request line and headers) not complete within C{[server] header_timeout}."""

    status = 408


class Conflict(OCCIError):
    """
    The action or update is not possible in the entity's current state; the
    message names the state.
    """

    status = 409


class PayloadTooLarge(OCCIError):
    """Body over C{max_body}, or a page size over the limit."""

    status = 413


class URITooLong(OCCIError):
    """A request line (its URL) over the channel's line limit."""

    status = 414


class UnsupportedMediaType(OCCIError):
    """The request's C{Content-Type} cannot be parsed."""

    status = 415


class HeaderFieldsTooLarge(OCCIError):
    """A request header line (a huge token) over the channel's limit (RFC 6585)."""

    status = 431


class Unimplemented(OCCIError):
    """User-defined mixins, or a client speaking an OCCI version above 1.2."""

    status = 501


class BadGateway(OCCIError):
    """EC2 answered an error occid cannot map, or something unparseable."""

    status = 502


class ServiceUnavailable(OCCIError):
    """EC2 throttled us after retries, or is unreachable; retry after a while."""

    status = 503

    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message, headers=(("Retry-After", str(retry_after)),))
        self.retry_after = retry_after


class GatewayTimeout(OCCIError):
    """An EC2 call, or the whole request, ran over its time limit."""

    status = 504


class InternalError(OCCIError):
    """
    Anything unexpected: the client sees only the request id; the traceback
    goes to the log.
    """

    status = 500

    def __init__(self, request_id: str):
        super().__init__(
            f"internal error; quote request id {request_id} to the site admin"
        )
        self.request_id = request_id
