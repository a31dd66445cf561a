"""Errors that services raise, and the model constraint behind a database refusal; the API's
exception handler and the admins turn them into messages for people."""

import functools

from django.apps import apps
from django.db import IntegrityError, models


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


class Forbidden(ServiceError):
    """The caller may not do this, for a reason the body names (an alumnus's app access ended)."""

    status_code = 403
    default_code = "permission_denied"


class PreconditionFailed(ServiceError):
    """The caller edited a version of the record that is no longer the current one (a stale
    ``If-Match``, or an admin form opened before someone else saved)."""

    status_code = 412
    default_code = "precondition_failed"


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the constraint or unique index the database enforced, if it says."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)


@functools.cache
def _constraints_by_name() -> dict[str, models.BaseConstraint]:
    return {
        constraint.name: constraint
        for model in apps.get_models()
        for constraint in model._meta.constraints
    }


def violated_constraint(error: IntegrityError) -> models.BaseConstraint | None:
    """The model constraint (of any app) behind a database refusal, None when it is not one of
    ours: its ``violation_error_message`` and ``violation_error_code`` explain it."""
    return _constraints_by_name().get(constraint_name(error) or "")
