"""Request ids (one per request, on the response, in every log line and audit row) and the
request body size limit."""

import contextvars
import logging
import re
import uuid

from django.conf import settings
from django.http import JsonResponse

_request_id = contextvars.ContextVar("request_id", default="")

# Accept a caller's id (a proxy's X-Request-ID) only when it is short and harmless to log.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[self.header] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = current_request_id() or "-"
        return True


class BodySizeLimitMiddleware:
    """Refuse a request whose declared body is larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with
    413 and the API's error body, before anything reads it. (Django would refuse it only when
    a view reads the body, as a 400; no endpoint of ours takes uploads.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Imported here: logging's set-up imports this module before the apps are ready.
        from clinic.api.errors import error_body

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            return JsonResponse(
                error_body("request_too_large", f"The request body is larger than {limit} bytes."),
                status=413,
            )
        return self.get_response(request)
