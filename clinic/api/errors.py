"""One exception handler: every 4xx/5xx body is ``{"code", "detail", "fields"}`` (DESIGN.md).

- DRF's exceptions keep their status; their codes become ``code``.
- Django's ``ValidationError`` from a service or ``full_clean()`` is a 400 with ``fields``.
- ``IntegrityError`` from a known constraint is a 409 carrying that constraint's
  ``violation_error_code`` and ``violation_error_message``: the database holds the invariant and
  the model says how to explain it. The usernames' unique indexes (``auth.User`` is not ours to
  give constraints) are a 400 on ``username``.
- ``clinic.errors.ServiceError`` carries its own status and code.
- Anything else is logged with its traceback and answered with a generic 500.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import ServiceError, constraint_name, violated_constraint
from clinic.models import USERNAME_TAKEN, USERNAME_UNIQUE_INDEXES

logger = logging.getLogger(__name__)

GENERIC_DETAILS = {
    400: "The request is not valid.",
    401: "Authentication credentials were not provided or are not valid.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "This method is not allowed here.",
    409: "The request conflicts with the current state.",
    429: "Too many requests; try again later.",
    500: "Something went wrong on our side; the error has been logged.",
}


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    return {"code": code, "detail": detail, "fields": fields or {}}


def _as_messages(value) -> list[str]:
    if isinstance(value, list | tuple):
        messages = []
        for item in value:
            messages.extend(_as_messages(item))
        return messages
    if isinstance(value, dict):
        # Nested serializer errors: flatten "child.field: message".
        return [
            f"{key}: {message}" for key, item in value.items() for message in _as_messages(item)
        ]
    return [str(value)]


def _drf_validation_body(exc: exceptions.ValidationError) -> dict:
    data = exc.detail
    if isinstance(data, dict):
        fields = {
            key: _as_messages(value) for key, value in data.items() if key != "non_field_errors"
        }
        non_field = _as_messages(data.get("non_field_errors", []))
    else:
        fields, non_field = {}, _as_messages(data)
    codes = exc.get_codes()
    code = "invalid"
    if isinstance(codes, dict) and set(codes) == {"non_field_errors"}:
        code = _first_code(codes["non_field_errors"]) or code
    elif isinstance(codes, list):
        code = _first_code(codes) or code
    return error_body(code, _detail_for(non_field, fields), fields)


def _detail_for(general: list[str], fields: dict[str, list[str]]) -> str:
    """One sentence for a person: the general error, the only field error, or a summary."""
    if general:
        return general[0]
    messages = [message for field_messages in fields.values() for message in field_messages]
    if len(messages) == 1:
        return messages[0]
    if fields:
        return "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
    return GENERIC_DETAILS[400]


def _first_code(codes) -> str | None:
    if isinstance(codes, list | tuple) and codes:
        return _first_code(codes[0])
    return codes if isinstance(codes, str) else None


def _django_validation_body(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        fields = {
            field: [message for error in errors for message in error.messages]
            for field, errors in exc.error_dict.items()
            if field != "__all__"
        }
        general = [m for error in exc.error_dict.get("__all__", []) for m in error.messages]
        codes = [e.code for e in exc.error_dict.get("__all__", []) if e.code]
    else:
        fields, general = {}, exc.messages
        codes = [e.code for e in exc.error_list if e.code]
    return error_body(codes[0] if codes else "invalid", _detail_for(general, fields), fields)


def _integrity_body(exc: IntegrityError) -> tuple[dict, int] | None:
    if constraint_name(exc) in USERNAME_UNIQUE_INDEXES:
        return error_body("invalid", USERNAME_TAKEN, {"username": [USERNAME_TAKEN]}), 400
    constraint = violated_constraint(exc)
    if constraint is None:
        return None
    code = constraint.violation_error_code or "conflict"
    return error_body(code, str(constraint.get_violation_error_message())), 409


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ServiceError):
        body = {**exc.extra, **error_body(exc.code, exc.detail, exc.fields)}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        return Response(_django_validation_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        known = _integrity_body(exc)
        if known is not None:
            body, status_code = known
            return Response(body, status=status_code)
        return _server_error(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        response = drf_exception_handler(exc, context)
        response.data = _drf_validation_body(exc)
        return response
    if isinstance(exc, exceptions.APIException):
        response = drf_exception_handler(exc, context)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # simplejwt's token errors carry nested "messages"; keep the body flat.
            code = (
                code
                if code in ("not_authenticated", "token_not_valid", "otp_invalid")
                else "authentication_failed"
            )
        detail = exc.detail
        if isinstance(detail, dict):
            detail = detail.get("detail", GENERIC_DETAILS.get(response.status_code, ""))
        response.data = error_body(code, str(detail))
        return response
    return _server_error(exc, context)


def _server_error(exc, context) -> Response:
    view = context.get("view")
    logger.error(
        "Unhandled error in %s",
        type(view).__name__ if view else "view",
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return Response(error_body("server_error", GENERIC_DETAILS[500]), status=500)


# Django-level handlers (URLs outside DRF views, and errors before a view runs) -------------------


def handler404(request, exception=None):
    return JsonResponse(error_body("not_found", GENERIC_DETAILS[404]), status=404)


def handler500(request):
    return JsonResponse(error_body("server_error", GENERIC_DETAILS[500]), status=500)


def handler403(request, exception=None):
    return JsonResponse(error_body("permission_denied", GENERIC_DETAILS[403]), status=403)


def handler400(request, exception=None):
    return JsonResponse(error_body("bad_request", GENERIC_DETAILS[400]), status=400)
