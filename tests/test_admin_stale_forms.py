"""The admin's change forms refuse a stale save (issue 20), as the API refuses a stale
``If-Match``: the page carries the record's version in a hidden field, and a form opened before
someone else saved gets a form error naming them, with nothing written."""

import datetime
import re

import pytest

from patients import services as patient_services
from patients.models import Assessment, Patient, PatientContact
from scheduling import services as calendar
from scheduling.models import Session
from tests.factories import PatientFactory, SessionFactory, admin_login, staff_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)  # 10:00 in New York
RESIDENTIAL = {"d1": 3, "d2": 1, "d3": 1, "d4": 1, "d5": 1, "d6": 1}
HIDDEN_VERSION = re.compile(r'<input type="hidden" name="record_version" value="(\d+)"')


@pytest.fixture
def bea(clinic):
    return staff_user(role="clinician", clinics=[clinic], username="bea")


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


# Each form: the record, the admin URL, the posted fields (A's edit), and B's change meanwhile.


def patient_case(clinic, admissions, clinician, bea):
    patient = PatientFactory(
        clinic=clinic, actor=admissions, first_name="Ana", email="ana@example.org"
    )
    form = {
        "first_name": "Anna",
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "email": "ana@example.org",
        "phone": "",
    }

    def theirs():
        patient_services.patient_update(actor=bea, patient=patient, email="ana.lee@example.org")

    return patient, f"/admin/patients/patient/{patient.pk}/change/", form, theirs


def contact_case(clinic, admissions, clinician, bea):
    contact = patient_services.contact_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions, first_name="Ana"),
        kind="emergency",
        name="Rosa",
        phone="+12025550143",
    )
    form = {"kind": "emergency", "name": "Rosa Diaz", "relationship": "", "phone": "+12025550143"}
    form["email"] = ""

    def theirs():
        patient_services.contact_update(actor=bea, contact=contact, phone="+12025550199")

    return contact, f"/admin/patients/patientcontact/{contact.pk}/change/", form, theirs


def assessment_case(clinic, admissions, clinician, bea):
    assessment = patient_services.assessment_create(
        actor=clinician,
        patient=PatientFactory(clinic=clinic, actor=admissions, first_name="Ana"),
        severity="severe",
        dimensions=RESIDENTIAL,
    )
    form = {"decided_level": "php", "decided_track": "", "override_reason": "Works days"}

    def theirs():
        patient_services.assessment_decide(
            actor=bea, assessment=assessment, decided_level="residential"
        )

    return assessment, f"/admin/patients/assessment/{assessment.pk}/change/", form, theirs


def session_case(clinic, admissions, clinician, bea):
    starts = NOW + datetime.timedelta(days=2)  # 2026-12-03 10:00 in New York
    session = SessionFactory(
        clinic=clinic,
        actor=clinician,
        title="Group",
        kind="group",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=2),
    )
    form = {
        "starts_at_0": "2026-12-03",
        "starts_at_1": "11:00:00",
        "ends_at_0": "2026-12-03",
        "ends_at_1": "13:00:00",
        "location": "Annex",
        "room": "",
    }

    def theirs():
        calendar.program_session_move(
            actor=bea,
            session=session,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            location="Room B",
        )

    return session, f"/admin/scheduling/session/{session.pk}/change/", form, theirs


CASES = {
    "patient": patient_case,
    "contact": contact_case,
    "assessment decision": assessment_case,
    "session move": session_case,
}


@pytest.fixture(params=list(CASES))
def case(request, clinic, admissions, clinician, bea):
    return CASES[request.param](clinic, admissions, clinician, bea)


def opened(client, url) -> int:
    """Open the change page as a browser does; the version the page carries."""
    page = client.get(url)
    assert page.status_code == 200
    found = HIDDEN_VERSION.search(page.content.decode())
    assert found, "the change form carries no record_version"
    return int(found.group(1))


def test_a_form_opened_before_someone_elses_save_is_refused_naming_them(
    case, client, clinician, bea
):
    # given: A opens the change page, then B saves a change
    obj, url, form, theirs = case
    browser = log_in(client, clinician)
    version = opened(browser, url)
    theirs()
    after_b = type(obj).objects.get(pk=obj.pk)

    # when: A saves the form as it was opened
    response = browser.post(url, {**form, "record_version": version})

    # then: a form error names B and the time, and A's edit is not written
    if isinstance(obj, Assessment):
        # B's decision made the page read-only (a decision is final): refused before the form.
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        errors = " ".join(response.context["adminform"].form.non_field_errors())
        assert "changed by bea at 2026-12-01 15:00 UTC since you read it" in errors
        # The page keeps the version it was opened with: saving again is refused again.
        assert HIDDEN_VERSION.search(response.content.decode()).group(1) == str(version)
    now = type(obj).objects.get(pk=obj.pk)
    assert now.version == after_b.version
    assert {name: getattr(now, name) for name in _compared(obj)} == {
        name: getattr(after_b, name) for name in _compared(obj)
    }


def test_a_form_of_the_current_version_saves(case, client, clinician):
    obj, url, form, _theirs = case
    browser = log_in(client, clinician)
    version = opened(browser, url)

    response = browser.post(url, {**form, "record_version": version})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert type(obj).objects.get(pk=obj.pk).version == version + 1


def _compared(obj) -> list[str]:
    return {
        Patient: ["first_name", "email"],
        PatientContact: ["name", "phone"],
        Assessment: ["decided_level", "override_reason"],
        Session: ["starts_at", "location"],
    }[type(obj)]
