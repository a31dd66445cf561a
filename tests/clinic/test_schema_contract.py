"""The schema as client teams meet it (issue 20): JSON bodies only, every list typed as a page
with its paging parameters, errors documented on every operation, and the README's endpoint
table naming exactly the schema's paths."""

import re
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import ClinicFactory, PatientFactory, staff_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")
# The SMS provider posts its inbound messages form-encoded (not a client team's operation).
PROVIDER_WEBHOOKS = {"/api/v1/webhooks/sms/"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_request_bodies_are_json_only(schema):
    media_types = {
        (path, method): set(operation["requestBody"]["content"])
        for path, method, operation in operations(schema)
        if "requestBody" in operation and path not in PROVIDER_WEBHOOKS
    }

    assert media_types
    assert {path for path, types in media_types.items() if types != {"application/json"}} == set()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "first_name=Ana&last_name=Diaz"),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="a"\r\n'),
        ("text/plain", "Ana Diaz"),
    ],
)
def test_a_body_that_is_not_json_is_a_415_with_the_error_body(
    client_for, admissions, content_type, body
):
    response = client_for(admissions).generic(
        "POST", "/api/v1/patients/", body, content_type=content_type
    )

    assert response.status_code == 415
    assert set(response.json()) == {"code", "detail", "fields"}
    assert response.json()["code"] == "unsupported_media_type"


def test_every_list_is_a_page_with_its_parameters(schema):
    offenders = []
    for _path, method, operation in operations(schema):
        if method != "get":
            continue
        content = operation["responses"]["200"]["content"]
        # A FHIR bundle (disclosures/{id}/bundle/) is JSON of its own media type; a discharge
        # summary's PDF is a binary document.
        ok = (
            content.get("application/json")
            or content.get("application/fhir+json")
            or content["application/pdf"]
        )["schema"]
        name = ok.get("$ref", "").rsplit("/", 1)[-1]
        is_page = name.startswith("Paginated")
        params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if is_page != operation["operationId"].endswith("_list") or (
            is_page and not {"page", "page_size"} <= params
        ):
            offenders.append(operation["operationId"])

    assert offenders == []


@pytest.mark.parametrize(
    ("path", "operation_id"),
    [
        ("/api/v1/patients/{id}/consents/", "patients_consents_list"),
        ("/api/v1/patients/{id}/contacts/", "patients_contacts_list"),
        ("/api/v1/patients/{id}/assessments/", "patients_assessments_list"),
        ("/api/v1/patients/{id}/disclosures/", "patients_disclosures_list"),
        ("/api/v1/aftercare-plans/{id}/items/", "aftercare_plans_items_list"),
        ("/api/v1/aftercare-plans/{id}/goals/", "aftercare_plans_goals_list"),
        ("/api/v1/aftercare-plans/{id}/check-ins/", "aftercare_plans_check_ins_list"),
        ("/api/v1/sessions/{id}/attendance/", "sessions_attendance_list"),
        ("/api/v1/reports/census/", "reports_census_list"),
        ("/api/v1/reports/step-down/", "reports_step_down_list"),
    ],
)
def test_the_nested_lists_are_documented_as_lists(schema, path, operation_id):
    operation = schema["paths"][path]["get"]
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}

    assert operation["operationId"] == operation_id
    if "{id}" in path:  # a record's own list takes no filters of the record's list
        assert query == {"page", "page_size"}


def test_a_nested_list_pages_as_documented(client_for, admissions, clinic):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    client = client_for(admissions)
    for n in range(3):
        client.post(
            f"/api/v1/patients/{patient.pk}/contacts/",
            {"kind": "emergency", "name": f"Contact {n}", "phone": f"+1202555010{n}"},
        )

    first = client.get(f"/api/v1/patients/{patient.pk}/contacts/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert (len(first["results"]), len(second["results"]), second["next"]) == (2, 1, None)


def test_every_operation_documents_a_server_error_with_the_error_body(schema):
    missing = [
        operation["operationId"]
        for _path, _method, operation in operations(schema)
        if operation["responses"].get("500", {}).get("content", {}).get("application/json")
        != {"schema": {"$ref": "#/components/schemas/Error"}}
    ]

    assert missing == []


def readme_table_paths() -> set[str]:
    """The API paths of the README's "Endpoints and who may use them" table (first column),
    their parameters named ``{}``."""
    text = (ROOT / "README.md").read_text()
    table = text.split("### Endpoints and who may use them", 1)[1].split("\n\n", 2)[1]
    paths = set()
    for row in table.splitlines()[2:]:
        first_column = row.split("|")[1]
        for token in re.findall(r"`([^`]+)`", first_column):
            if token.endswith("/"):
                paths.add(re.sub(r"\{[^}]*\}", "{}", token))
    return paths


def test_the_readme_names_exactly_the_schemas_paths(schema):
    in_schema = {
        re.sub(r"\{[^}]*\}", "{}", path.removeprefix("/api/v1/")) for path in schema["paths"]
    }

    readme = readme_table_paths()

    assert sorted(readme - in_schema) == []
    assert sorted(in_schema - readme) == []


def test_staff_of_another_clinic_get_nothing_from_a_nested_list(client_for, clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    outsider = staff_user(role="admissions", clinics=[ClinicFactory()])

    response = client_for(outsider).get(f"/api/v1/patients/{patient.pk}/contacts/")

    assert response.status_code == 404
