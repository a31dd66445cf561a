"""Every 4xx/5xx body is {"code", "detail", "fields"} (DESIGN.md, API outer contract)."""

import logging

import pytest
from django.core.cache import cache

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clinic.error_urls")]


def assert_error_body(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"code", "detail", "fields"}
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["fields"], dict)
    return body


def test_validation_error_is_400_with_field_messages(client_for, clinician):
    response = client_for(clinician).post("/errors/validation/", {"count": 0}, format="json")

    body = assert_error_body(response, 400, "invalid")
    assert set(body["fields"]) == {"name", "count"}
    assert all(
        isinstance(message, str) for messages in body["fields"].values() for message in messages
    )
    assert "name" in body["detail"]


def test_malformed_json_is_400(client_for, clinician):
    response = client_for(clinician).post(
        "/errors/validation/", "{not json", content_type="application/json"
    )

    assert_error_body(response, 400, "parse_error")


def test_missing_token_is_401_not_403(api_client):
    response = api_client.get("/api/v1/clinics/")

    assert_error_body(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_401_with_a_flat_body(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api_client.get("/api/v1/clinics/")

    body = assert_error_body(response, 401, "token_not_valid")
    assert body["fields"] == {}


def test_role_not_allowed_is_403(client_for, user_without_role):
    response = client_for(user_without_role).get("/api/v1/clinics/")

    assert_error_body(response, 403, "permission_denied")


def test_object_outside_reach_is_404_like_a_missing_one(client_for, clinician, other_clinic):
    client = client_for(clinician)

    outside = client.get(f"/api/v1/clinics/{other_clinic.pk}/")
    missing = client.get("/api/v1/clinics/999999/")

    assert_error_body(outside, 404, "not_found")
    assert outside.json() == missing.json()


def test_unknown_url_is_404_json(client_for, clinician):
    response = client_for(clinician).get("/api/v1/no-such-thing/")

    assert_error_body(response, 404, "not_found")


def test_method_not_allowed_is_405(client_for, clinician):
    response = client_for(clinician).delete("/api/v1/clinics/")

    assert_error_body(response, 405, "method_not_allowed")


def test_service_conflict_is_409_with_its_code(client_for, clinician):
    response = client_for(clinician).post("/errors/service-conflict/")

    body = assert_error_body(response, 409, "program_full")
    assert body["detail"] == "The program has no free place on that date."


def test_database_constraint_is_409_with_the_constraints_message(client_for, clinician):
    response = client_for(clinician).post("/errors/constraint-conflict/")

    body = assert_error_body(response, 409, "clinic_name_taken")
    assert body["detail"] == "A clinic with this name already exists."


def test_unexpected_exception_is_logged_and_answered_with_a_generic_500(
    client_for, clinician, caplog
):
    with caplog.at_level(logging.ERROR, logger="clinic.api.errors"):
        response = client_for(clinician).get("/errors/crash/")

    body = assert_error_body(response, 500, "server_error")
    assert "ZeroDivisionError" not in body["detail"]
    [record] = [r for r in caplog.records if r.name == "clinic.api.errors"]
    assert record.exc_info[0] is ZeroDivisionError


def test_unexplained_integrity_error_is_a_500_not_a_leak(client_for, clinician):
    response = client_for(clinician).post("/errors/unknown-integrity/")

    body = assert_error_body(response, 500, "server_error")
    assert "cannot explain" not in body["detail"]


def test_throttled_request_is_429(api_client):
    cache.clear()
    assert api_client.get("/errors/throttled/").status_code == 200

    response = api_client.get("/errors/throttled/")

    assert_error_body(response, 429, "throttled")
    assert "Retry-After" in response.headers


def test_error_outside_drf_is_json_too(client, settings):
    # A Django-level 404 (no DRF view matched) with DEBUG off.
    settings.DEBUG = False

    response = client.get("/definitely/not/here/")

    assert_error_body(response, 404, "not_found")
