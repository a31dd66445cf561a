"""Aftercare plans: started for an admitted enrollment, one per enrollment, status forward only,
closed plans frozen."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AuditAction, AuditEvent
from programs.models import AftercarePlan, Level
from programs.services import aftercare as services
from programs.services.enrollments import enrollment_create
from tests.factories import PatientFactory, ProgramFactory
from tests.programs.aftercare.helpers import BASE, make_enrollment

pytestmark = pytest.mark.django_db


# Plans --------------------------------------------------------------------------------------------


def test_a_clinician_starts_the_plan_of_an_admitted_enrollment(
    client_for, clinic, admissions, clinician
):
    enrollment = make_enrollment(clinic, admissions, clinician)

    response = client_for(clinician).post(
        BASE,
        {
            "enrollment": enrollment.pk,
            "review_date": "2027-01-15",
            "medication_continuation": "Buprenorphine 8 mg daily, refills via Dr Ortiz",
            "sober_living": "Oak House from discharge",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["enrollment"] == enrollment.pk
    assert body["patient"] == enrollment.patient_id
    assert body["clinic"] == clinic.pk
    assert body["status"] == "draft"
    assert body["review_date"] == "2027-01-15"
    assert body["items"] == []
    assert body["goals"] == []
    assert response.headers["Cache-Control"].count("no-store") == 1
    plan = AftercarePlan.objects.get()
    assert plan.created_by == clinician
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE,
        object_type="programs.aftercareplan",
        object_id=str(plan.pk),
        patient_id=enrollment.patient_id,
        clinic=clinic,
        actor=clinician,
    ).exists()


def test_a_second_plan_for_the_same_enrollment_is_a_409(client_for, plan, clinician):
    response = client_for(clinician).post(BASE, {"enrollment": plan.enrollment_id}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "plan_exists"
    assert AftercarePlan.objects.count() == 1


def test_a_waitlisted_enrollment_gets_no_plan(clinic, admissions, clinician):
    program = ProgramFactory(clinic=clinic, capacity=1, level=Level.IOP, track="day")
    make_enrollment(clinic, admissions, program=program)
    waitlisted = enrollment_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions),
        program=program,
        start_date=timezone.localdate(timezone=clinic.zone),
        waitlist=True,
    )
    assert waitlisted.status == "waitlisted"

    with pytest.raises(Conflict) as error:
        services.aftercare_plan_create(actor=clinician, enrollment=waitlisted)

    assert error.value.code == "invalid_state"
    assert not AftercarePlan.objects.exists()


def test_the_plan_status_moves_forward_only(client_for, plan, clinician):
    client = client_for(clinician)
    url = f"{BASE}{plan.pk}/"

    activated = client.patch(url, {"status": "active"}, format="json")
    backwards = client.patch(url, {"status": "draft"}, format="json")
    closed = client.patch(url, {"status": "closed"}, format="json")
    reopened = client.patch(url, {"status": "active"}, format="json")

    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    assert (backwards.status_code, backwards.json()["code"]) == (409, "invalid_state")
    assert closed.status_code == 200
    assert (reopened.status_code, reopened.json()["code"]) == (409, "invalid_state")
    plan.refresh_from_db()
    assert plan.status == "closed"


def test_the_plan_review_date_and_texts_change(client_for, plan, clinician):
    response = client_for(clinician).patch(
        f"{BASE}{plan.pk}/",
        {"review_date": "2027-02-01", "sober_living": "  Oak House  ", "notes": "Call weekly"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    plan.refresh_from_db()
    assert (plan.review_date, plan.sober_living, plan.notes) == (
        datetime.date(2027, 2, 1),
        "Oak House",
        "Call weekly",
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(plan.pk), patient_id=plan.patient_id
    ).exists()


def test_plan_update_refuses_fields_outside_the_allowlist(plan, clinician):
    with pytest.raises(ValidationError) as error:
        services.aftercare_plan_update(actor=clinician, plan=plan, patient_id=1, status="active")

    assert set(error.value.message_dict) == {"patient_id"}
    plan.refresh_from_db()
    assert plan.status == "draft"


def test_a_closed_plan_refuses_further_changes(client_for, plan, clinician):
    services.aftercare_plan_update(actor=clinician, plan=plan, status="closed")
    client = client_for(clinician)

    item = client.post(f"{BASE}{plan.pk}/items/", {"kind": "trigger", "text": "x"}, format="json")
    notes = client.patch(f"{BASE}{plan.pk}/", {"notes": "later"}, format="json")

    assert (item.status_code, item.json()["code"]) == (409, "plan_closed")
    assert (notes.status_code, notes.json()["code"]) == (409, "plan_closed")
