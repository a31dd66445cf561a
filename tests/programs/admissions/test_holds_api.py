"""The API of the pipeline's last steps: inquiries/{id}/schedule/, close/ and convert/ (scoped
to the caller's clinics, admissions only, the error codes of the services)."""

import datetime

import pytest

from clinic.models import AuditAction, AuditEvent
from programs.models import Enrollment, HoldStatus, InquiryStatus
from tests.factories import PatientFactory, ProgramFactory, client_of, staff_user
from tests.programs.admissions.holds import TODAY, days, residential_with_beds, schedule, verified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

BIRTH = datetime.date(1990, 5, 4)


def post(user, inquiry, step, body):
    return client_of(user).post(f"/api/v1/inquiries/{inquiry.pk}/{step}/", body, format="json")


def test_admissions_schedule_and_the_detail_shows_the_hold(clinic, admissions):
    program = residential_with_beds(clinic, beds=1)
    (bed,) = program.beds.all()
    inquiry = verified(clinic, admissions)

    response = post(
        admissions, inquiry, "schedule", {"program": program.pk, "admission_date": "2026-12-03"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in ("inquiry", "program", "bed", "bed_label", "status")} == {
        "inquiry": inquiry.pk,
        "program": program.pk,
        "bed": bed.pk,
        "bed_label": str(bed),
        "status": "held",
    }
    assert (body["admission_date"], body["lapses_on"]) == ("2026-12-03", "2026-12-04")
    detail = client_of(admissions).get(f"/api/v1/inquiries/{inquiry.pk}/").json()
    assert detail["status"] == "scheduled"
    assert detail["hold"] == {
        "id": body["id"],
        "program": program.pk,
        "admission_date": "2026-12-03",
        "lapses_on": "2026-12-04",
        "bed": bed.pk,
    }


def test_schedule_refusals_carry_their_codes(clinic, admissions):
    full = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    schedule(admissions, verified(clinic, admissions), full)
    inquiry = verified(clinic, admissions)

    program_full = post(
        admissions, inquiry, "schedule", {"program": full.pk, "admission_date": "2026-12-05"}
    )
    past = post(
        admissions, inquiry, "schedule", {"program": full.pk, "admission_date": "2026-11-30"}
    )

    assert (program_full.status_code, program_full.json()["code"]) == (409, "program_full")
    assert past.status_code == 400
    assert "admission_date" in past.json()["fields"]


def test_admissions_close_with_a_reason(clinic, admissions):
    inquiry = verified(clinic, admissions)

    response = post(admissions, inquiry, "close", {"reason": "no_coverage", "note": "Self-pay no"})
    again = post(admissions, inquiry, "close", {"reason": "no_coverage"})
    unknown = post(admissions, verified(clinic, admissions), "close", {"reason": "bored"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["not_admitted_reason"]) == (
        "not_admitted",
        "no_coverage",
    )
    assert response.json()["status_history"][-1]["reason"] == "Self-pay no"
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert unknown.status_code == 400
    assert "reason" in unknown.json()["fields"]


def test_admissions_convert_into_an_admission_with_the_patient(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    inquiry = verified(clinic, admissions, date_of_birth=BIRTH)
    hold = schedule(admissions, inquiry, program, TODAY)

    response = post(admissions, inquiry, "convert", {})

    assert response.status_code == 201, response.json()
    enrollment = Enrollment.objects.get()
    assert response.json()["id"] == enrollment.pk
    assert response.json()["patient"] == enrollment.patient_id
    assert response.json()["status"] == "admitted"
    hold.refresh_from_db()
    assert hold.status == HoldStatus.CONVERTED
    audits = AuditEvent.objects.filter(actor=admissions, patient_id=enrollment.patient_id)
    assert {
        ("patients.patient", AuditAction.CREATE),
        ("programs.enrollment", AuditAction.CREATE),
    } <= set(audits.values_list("object_type", "action"))


def test_a_possible_duplicate_on_conversion_is_a_409_with_the_ids(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry = verified(clinic, admissions, first_name="Sam", date_of_birth=BIRTH)
    schedule(admissions, inquiry, program, TODAY)
    twin = PatientFactory(clinic=clinic, first_name="Sam", last_name="Caller", date_of_birth=BIRTH)

    refused = post(admissions, inquiry, "convert", {})
    linked = post(admissions, inquiry, "convert", {"patient": twin.pk})

    assert (refused.status_code, refused.json()["code"]) == (409, "possible_duplicate")
    assert refused.json()["duplicates"] == [twin.pk]
    assert linked.status_code == 201
    assert linked.json()["patient"] == twin.pk
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.patient) == (InquiryStatus.ADMITTED, twin)


def test_an_early_conversion_is_a_409(clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry = verified(clinic, admissions, date_of_birth=BIRTH)
    schedule(admissions, inquiry, program, TODAY + days(2))

    response = post(admissions, inquiry, "convert", {})

    assert (response.status_code, response.json()["code"]) == (409, "admission_not_due")


@pytest.mark.parametrize("step", ["schedule", "close", "convert"])
def test_other_roles_are_refused_and_other_clinics_inquiries_are_404(
    clinic, other_clinic, admissions, step
):
    inquiry = verified(clinic, admissions)
    outside = staff_user(role="admissions", clinics=[other_clinic])

    for role in ("clinician", "supervisor", "utilization_review"):
        assert post(staff_user(role=role, clinics=[clinic]), inquiry, step, {}).status_code == 403
    assert post(outside, inquiry, step, {}).status_code == 404
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.VERIFYING
