"""Limits on what a request may carry: every string and list a client can send has a bound in
the schema (so the serializer enforces it), the body has a size cap, and pages have a size cap.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator

from clinic.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

# Strings that carry their own bound: a format the field parses (a date, an e-mail, a UUID…) or
# a closed set of values.
SELF_BOUNDED = ("format", "enum", "maxLength")


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def unbounded_inputs() -> list[str]:
    """``operation field kind`` of every writable string without maxLength (nor a format or
    enum) and every writable array without maxItems in a request body of the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []

    def visit(where: str, node: dict, depth: int = 0):
        node = _resolve(schema, node)
        for variant in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
            visit(where, variant, depth + 1)
        for name, prop in node.get("properties", {}).items():
            if prop.get("readOnly"):
                continue
            resolved = _resolve(schema, prop)
            kind = resolved.get("type")
            if kind == "string" and not any(key in resolved for key in SELF_BOUNDED):
                found.append(f"{where} {name} string")
            if kind == "array":
                if "maxItems" not in resolved:
                    found.append(f"{where} {name} array")
                visit(f"{where} {name}[]", resolved.get("items", {}), depth + 1)
            if kind == "object" and depth < 5:
                visit(f"{where} {name}", resolved, depth + 1)

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if not body:
                continue
            for content in body["content"].values():
                visit(f"{method.upper()} {path}", content["schema"])
    return sorted(set(found))


def test_every_string_and_list_a_client_sends_is_bounded():
    assert unbounded_inputs() == []


def test_an_oversized_body_is_refused_with_413_before_any_view(client_for, admissions, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client_for(admissions).post(
        "/api/v1/patients/", {"first_name": "x" * 20_000}, format="json"
    )

    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "detail": "The request body is larger than 10000 bytes.",
        "fields": {},
    }


def test_a_body_under_the_cap_reaches_the_view(client_for, admissions, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client_for(admissions).post(
        "/api/v1/patients/", {"first_name": "x" * 5_000}, format="json"
    )

    assert response.status_code == 400  # the serializer's own limits answer
    assert "first_name" in response.json()["fields"]


def test_the_page_size_is_capped_at_200(client_for, supervisor, clinic):
    AuditEvent.objects.bulk_create(
        AuditEvent(clinic=clinic, action=AuditAction.READ, object_type="x", object_id=str(n))
        for n in range(205)
    )
    response = client_for(supervisor).get("/api/v1/audit-events/?page_size=1000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 200
