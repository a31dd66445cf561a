"""The OpenAPI schema's error responses (a drf-spectacular postprocessing hook).

Every 4xx body is ``{"code", "detail", "fields"}`` (clinic.api.errors). The views document
their successes; this hook adds, to every operation, the errors it can answer with, from what
the operation is:

- every operation: 429 (every view is throttled) and 500 (the generic body; the traceback goes
  to the log);
- one with a request body or query parameters: 400 (validation); with a body, 413 (too large)
  and 415 (a media type the API does not parse, or a multipart body it cannot read one from);
- a token-protected operation: 401 (no or a bad token) and 403 (role, or not the patient's
  app); a token-protected write (POST, PUT, PATCH, DELETE): 400 and 409 (a service's
  validation or conflict);
- one with path parameters: 404 (no such object, or outside the caller's reach); a paginated
  list: 404 (a page past the end);
- one that takes an ``If-Match`` header (``clinic.api.conditional``): 412 (the record changed
  since the caller read it).

The public operations (sign-in, activation, the provider's webhook) document their own
credential errors with ``ErrorSerializer`` (401 for a bad password or token, 403 for a bad
signature). A view's own documentation of a status wins: the hook only fills in what is
missing. The ``Error`` component is this module's ``ERROR_SCHEMA``.

Deprecations (CHANGELOG.md's policy): a field or operation to be removed is marked
``deprecated: true`` for one version first. A field: list it in the serializer's
``extend_schema_serializer(deprecate_fields=[...])`` and end its ``help_text`` with
``deprecation(...)``; an operation: ``extend_schema(deprecated=True, description=...)`` with
the same sentence. The CHANGELOG's entry of that version names it under "Deprecated".

Times of day: drf-spectacular gives a ``TimeField`` the format ``time``, which is RFC 3339's
``full-time`` and carries a UTC offset; the API's times of day are clinic-local wall times
(``"18:00:00"``) without one. The hook documents them as ``partial-time`` with their pattern.
"""

from rest_framework import serializers


def deprecation(*, since: str, removal: str, instead: str) -> str:
    """The sentence that ends a deprecated field's or operation's description: when it was
    deprecated, the version that removes it (the next one at the earliest), what to use."""
    return f"Deprecated in {since}, removed in {removal}: use {instead} instead."


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response (``Error`` in the schema)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


ERROR_COMPONENT = "Error"

ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every 4xx and 5xx response.",
    "properties": {
        "code": {"type": "string", "description": "Machine-readable code, e.g. `invalid`."},
        "detail": {"type": "string", "description": "One sentence for a person."},
        "fields": {
            "type": "object",
            "description": "Messages per request field (empty when none is at fault).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["code", "detail", "fields"],
}

DESCRIPTIONS = {
    "400": "The request is not valid (`fields` names what is wrong).",
    "401": "Authentication credentials were not provided or are not valid.",
    "403": "The caller may not do this.",
    "404": "Not found, or outside the caller's reach.",
    "409": "The request conflicts with the current state.",
    "413": "The request body is too large.",
    "412": "The record changed since you read it (`If-Match` names an older version): "
    "`code` is `precondition_failed`; read it again and redo the change.",
    "415": "The request body's media type is not supported.",
    "429": "Too many requests; try again later.",
    "500": "A server error (the body is generic; the request id finds it in the log).",
}

WRITES = {"post", "put", "patch", "delete"}


def error_statuses(method: str, operation: dict) -> set[str]:
    statuses = {"429", "500"}
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        statuses |= {"400", "413", "415"}
    if any(parameter["in"] == "query" for parameter in parameters):
        statuses.add("400")
    if any(requirement for requirement in operation.get("security") or []):
        statuses |= {"401", "403"}
        if method in WRITES:
            statuses |= {"400", "409"}
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.add("404")
    if any(parameter["in"] == "query" and parameter["name"] == "page" for parameter in parameters):
        statuses.add("404")
    if any(
        parameter["in"] == "header" and parameter["name"] == "If-Match" for parameter in parameters
    ):
        statuses.add("412")
    return statuses


LOCAL_TIME = {
    "format": "partial-time",
    "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
}


def _local_times(node) -> None:
    """Every ``format: time`` below ``node`` becomes a local time of day."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.update(LOCAL_TIME)
        for value in node.values():
            _local_times(value)
    elif isinstance(node, list):
        for value in node:
            _local_times(value)


def document_errors(result, generator, request, public):
    """Add the ``Error`` component and each operation's error responses to the schema, and
    document times of day as local ones."""
    _local_times(result)
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(method, operation)):
                responses.setdefault(
                    status,
                    {
                        "content": {"application/json": {"schema": reference}},
                        "description": DESCRIPTIONS[status],
                    },
                )
    return result
