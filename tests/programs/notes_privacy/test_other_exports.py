"""Notes go nowhere but a disclosure that names them: not the patient's app (which shows the
accounting, never the bundle), not the staff's reports."""

import pytest

from tests.factories import DisclosureFactory, EnrollmentFactory, app_account
from tests.programs.notes_privacy.conftest import MARKERS

pytestmark = pytest.mark.django_db

ME_PAGES = [
    "/api/v1/me/",
    "/api/v1/me/preferences/",
    "/api/v1/me/consents/",
    "/api/v1/me/schedule/",
    "/api/v1/me/enrollments/",
    "/api/v1/me/aftercare-plan/",
    "/api/v1/me/check-ins/",
    "/api/v1/me/measures/",
    "/api/v1/me/disclosures/",
    "/api/v1/me/discharge-summary/",
]
REPORTS = [
    "/api/v1/reports/census/",
    "/api/v1/reports/step-down/",
    "/api/v1/reports/admissions/",
    "/api/v1/reports/outcomes/",
    "/api/v1/reports/continuity/",
]


def leaked(text: str) -> list[str]:
    return [key for key, marker in MARKERS.items() if marker in text]


def test_the_patients_app_shows_no_note(client_for, notes_world, iop):
    avery = notes_world["avery"]
    EnrollmentFactory(program=iop, patient=avery, actor=notes_world["admissions"])
    # A disclosure of the notes is in the accounting the app lists; its bundle is not.
    DisclosureFactory(
        patient=avery,
        actor=notes_world["clinician"],
        recipient_name="Northside Outpatient Practice",
        purpose="treatment",
        purpose_other="",
        categories=["progress_notes"],
    )
    client = client_for(app_account(avery))
    answered = 0
    for url in ME_PAGES:
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        answered += response.status_code == 200
        assert leaked(response.content.decode()) == [], url
    assert answered >= len(ME_PAGES) - 2
    listing = client.get("/api/v1/me/disclosures/").json()["results"]
    assert [row["categories"] for row in listing] == [["progress_notes"]]


def test_the_staff_reports_show_no_note(client_for, notes_world, iop):
    EnrollmentFactory(program=iop, patient=notes_world["avery"], actor=notes_world["admissions"])
    client = client_for(notes_world["supervisor"])
    for url in REPORTS:
        response = client.get(url)
        assert response.status_code == 200, url
        assert leaked(response.content.decode()) == [], url
