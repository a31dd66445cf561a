"""Errors that services raise; the API's exception handler turns them into the error body."""


class ServiceError(Exception):
    """A request the service refuses. ``code`` is machine-readable, the message is for people."""

    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        fields: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.fields = fields or {}
        # Further keys of the error body (e.g. the ids of possible duplicates).
        self.extra = extra or {}


class Conflict(ServiceError):
    """The request clashes with the current state (a full program, an overlapping stay)."""

    status_code = 409
    default_code = "conflict"


class PreconditionFailed(ServiceError):
    """The caller edited a version of the record that is no longer the current one (a stale
    ``If-Match``, or an admin form opened before someone else saved)."""

    status_code = 412
    default_code = "precondition_failed"
