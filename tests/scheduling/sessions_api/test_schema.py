"""The schema documents the calendar endpoints."""

import pytest

pytestmark = pytest.mark.django_db


# Schema ---------------------------------------------------------------------------------------


def test_the_schema_documents_the_calendar_endpoints(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/sessions/"])
    assert {"get", "patch"} <= set(paths["/api/v1/sessions/{id}/"])
    assert {"get", "post"} <= set(paths["/api/v1/sessions/{id}/attendance/"])
    assert "post" in paths["/api/v1/sessions/{id}/cancel/"]
    assert {"get", "post"} <= set(paths["/api/v1/series/"])
    parameters = {p["name"] for p in paths["/api/v1/sessions/"]["get"]["parameters"]}
    assert {
        "program",
        "patient",
        "clinician",
        "starts_after",
        "starts_before",
        "status",
        "needs_attendance",
        "page_size",
    } <= parameters
