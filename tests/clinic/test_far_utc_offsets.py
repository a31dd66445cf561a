"""Instants with any UTC offset Python reads are read right in filters and in ``me/schedule/``;
ones out of range once in UTC are a 400 with the error body (found by Schemathesis: each was a
500)."""

import datetime

import pytest

from tests.factories import PatientFactory, SessionFactory, app_account

pytestmark = pytest.mark.django_db

# Python reads UTC offsets up to ±23:59; PostgreSQL refuses any past ±15:59 in a query.
FAR_OFFSET = "2026-12-01T10:00:00-23:30"
# The same instant in UTC, for checking that such an offset is read right.
FAR_OFFSET_UTC = datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.UTC)


def test_assessment_filter_takes_any_utc_offset(clinic, admissions, client_for):
    client = client_for(admissions)
    response = client.get("/api/v1/assessments/", {"assessed_after": FAR_OFFSET})
    assert response.status_code == 200
    # An instant out of range once in UTC is a 400, not an overflow.
    response = client.get("/api/v1/assessments/", {"assessed_after": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400
    assert "assessed_after" in response.json()["fields"]


def test_session_filter_takes_any_utc_offset(clinic, clinician, client_for):
    start = FAR_OFFSET_UTC - datetime.timedelta(hours=1)
    session = SessionFactory(
        clinic=clinic,
        actor=clinician,
        title="Group",
        kind="group",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=3),
    )
    client = client_for(clinician)
    before = client.get("/api/v1/sessions/", {"starts_before": FAR_OFFSET})
    after = client.get("/api/v1/sessions/", {"starts_after": FAR_OFFSET})
    assert before.status_code == after.status_code == 200
    assert [row["id"] for row in before.json()["results"]] == [session.pk]
    assert after.json()["results"] == []
    response = client.get("/api/v1/sessions/", {"starts_after": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400


def test_my_schedule_takes_any_utc_offset_and_far_dates(clinic, admissions, client_for):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    client = client_for(app_account(patient))
    response = client.get("/api/v1/me/schedule/", {"start": FAR_OFFSET})
    assert response.status_code == 200
    for query in (
        {"start": "9999-12-31"},
        {"end": "9999-12-31"},
        {"start": "9999-12-31T23:00:00Z"},
        {"start": "0001-01-01T00:00:00+05:00"},
    ):
        response = client.get("/api/v1/me/schedule/", query)
        assert response.status_code == 400, query
        assert set(response.json()) == {"code", "detail", "fields"}
