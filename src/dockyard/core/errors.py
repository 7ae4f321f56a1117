"""Typed errors shared by every layer.

Each error has a stable ``code`` (the JSON error body carries it over HTTP and the
client raises the same class again from it), an HTTP status and a CLI exit code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DockyardError(Exception):
    """Base class of every error dockyard raises on purpose."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        """The JSON error body sent over HTTP."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(DockyardError):
    """The request is malformed: a bad name, value or argument. The message says what to fix."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class DigestMismatch(InvalidInput):
    """Bytes sent for a blob do not hash to the digest the caller announced."""

    code = "digest_mismatch"


class CorruptBlob(DigestMismatch):
    """A stored blob's bytes no longer hash to its digest (altered on disk or in transit):
    they are refused before use. Restore the blob from a backup, or delete what uses it."""

    code = "corrupt_blob"
    http_status = 409
    exit_code = 4


class InvalidQuery(InvalidInput):
    """A search query that does not parse; ``details`` has its ``position`` and ``query``."""

    code = "invalid_query"

    @property
    def position(self) -> int:
        return int(self.details.get("position", 0))

    @property
    def text(self) -> str:
        return str(self.details.get("query", ""))


class UnreadableContent(InvalidInput):
    """Stored bytes cannot be read as asked: a preview of a file that is not a table, or of
    a corrupt one. The message says what is wrong with the file."""

    code = "unreadable_content"
    http_status = 400


class TooLarge(InvalidInput):
    """A request body is larger than the server accepts; ``details`` has the ``limit``."""

    code = "too_large"
    http_status = 413


class MethodNotAllowed(InvalidInput):
    """The path exists but not with this HTTP method; ``details`` lists the ``allowed`` ones."""

    code = "method_not_allowed"
    http_status = 405


class NotFound(DockyardError):
    """The named object does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 3


class Conflict(DockyardError):
    """The request collides with existing state, e.g. a name already taken."""

    code = "conflict"
    http_status = 409
    exit_code = 4


class GateFailed(Conflict):
    """Moving an alias was blocked by its promotion policy; ``details`` has the report."""

    code = "gate_failed"


class ModelFrozen(Conflict):
    """The model is frozen (the Andon cord): its aliases and traffic do not change until
    it is unfrozen; ``details`` has the freeze's ``reason``, ``by`` and ``at``."""

    code = "model_frozen"


class Unauthorized(DockyardError):
    """No valid credentials were given."""

    code = "unauthorized"
    http_status = 401
    exit_code = 5


class TooManyRequests(DockyardError):
    """The caller must wait before trying again (failed sign-ins, for one)."""

    code = "too_many_requests"
    http_status = 429
    exit_code = 5


class Forbidden(DockyardError):
    """The acting principal may not do this."""

    code = "forbidden"
    http_status = 403
    exit_code = 5


class Unavailable(DockyardError):
    """A service dockyard depends on (database, blob storage, server) cannot be reached."""

    code = "unavailable"
    http_status = 503
    exit_code = 6


ERRORS_BY_CODE: dict[str, type[DockyardError]] = {
    cls.code: cls
    for cls in (
        DockyardError,
        InvalidInput,
        DigestMismatch,
        CorruptBlob,
        InvalidQuery,
        UnreadableContent,
        TooLarge,
        MethodNotAllowed,
        NotFound,
        Conflict,
        GateFailed,
        ModelFrozen,
        Unauthorized,
        TooManyRequests,
        Forbidden,
        Unavailable,
    )
}


def error_from_body(status: int, body: Any) -> DockyardError:
    """Rebuild the typed error from an HTTP error response body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return DockyardError(
            f"server answered HTTP {status} with an unexpected body: {body!r:.200}"
        )
    cls = ERRORS_BY_CODE.get(str(error.get("code")), DockyardError)
    return cls(str(error.get("message", "")), details=error.get("details") or {})
