"""The enrollment admin's add, discharge, admit and cancel pages go through the services and show
their refusals."""

import datetime

import pytest

from clinic.models import AuditAction
from patients.models import Level
from programs.admin import EnrollmentAdmin, ProgramAdmin, TransitionAdmin
from programs.models import DischargeReason, Enrollment, EnrollmentStatus
from programs.services import enrollments as services
from tests.programs.admin.helpers import (
    ENROLLMENTS,
    audit_rows,
    change_url,
    enroll,
    enrollment_form,
    html,
    message_texts,
)

pytestmark = pytest.mark.django_db


def test_the_add_form_admits_through_the_service(admissions_client, admissions, alvarez, iop):
    response = admissions_client.post(f"{ENROLLMENTS}add/", enrollment_form(alvarez, iop))

    assert response.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.patient, enrollment.program) == (alvarez, iop)
    assert enrollment.status == EnrollmentStatus.ADMITTED
    assert enrollment.level == Level.IOP
    assert enrollment.created_by == admissions
    # The program's planned stay: IOP plans 84 days.
    assert enrollment.planned_end_date == iop.clinic.today() + datetime.timedelta(days=84)
    event = audit_rows(AuditAction.CREATE, object_type="programs.enrollment").get()
    assert (event.actor, event.patient_id) == (admissions, alvarez.pk)


def test_the_add_form_refuses_a_full_program_with_the_services_message(
    admissions_client, admissions, alvarez, brennan, residential
):
    residential.capacity = 1
    residential.save(update_fields=["capacity"])
    enroll(admissions, brennan, residential)
    before = audit_rows(AuditAction.CREATE).count()

    response = admissions_client.post(f"{ENROLLMENTS}add/", enrollment_form(alvarez, residential))

    assert response.status_code == 200
    assert "has no free place" in html(response)
    assert f"{residential.name} has no free place from {residential.clinic.today()}" in html(
        response
    )
    assert not Enrollment.objects.filter(patient=alvarez).exists()
    assert audit_rows(AuditAction.CREATE).count() == before


def test_the_add_form_waitlists_when_asked_and_the_program_is_full(
    admissions_client, admissions, alvarez, brennan, residential
):
    residential.capacity = 1
    residential.save(update_fields=["capacity"])
    enroll(admissions, brennan, residential)

    response = admissions_client.post(
        f"{ENROLLMENTS}add/", enrollment_form(alvarez, residential, waitlist="on", priority="2")
    )

    assert response.status_code == 302
    entry = Enrollment.objects.get(patient=alvarez)
    assert (entry.status, entry.priority) == (EnrollmentStatus.WAITLISTED, 2)


def test_the_add_form_shows_a_field_error_of_the_service(admissions_client, alvarez, iop):
    too_short = iop.clinic.today() + datetime.timedelta(days=10)

    response = admissions_client.post(
        f"{ENROLLMENTS}add/",
        enrollment_form(alvarez, iop, planned_end_date=too_short.isoformat()),
    )

    assert response.status_code == 200
    assert "Evening IOP plans stays of at least 42 days." in html(response)
    assert not Enrollment.objects.exists()


def test_the_add_form_offers_no_other_clinics_patient_or_program(
    admissions_client, alvarez, iop, stranger_stay
):
    response = admissions_client.post(
        f"{ENROLLMENTS}add/", enrollment_form(stranger_stay.patient, stranger_stay.program)
    )

    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert Enrollment.objects.count() == 1


def test_the_enrollment_admin_has_no_inline_formsets():
    # The add form's clean() admits through the service; nothing may fail after that write.
    assert not EnrollmentAdmin.inlines
    assert not ProgramAdmin.inlines
    assert not TransitionAdmin.inlines


# 2. Discharge -------------------------------------------------------------------------------------


def test_the_discharge_page_discharges_and_audits(clinician_client, clinician, stay):
    today = stay.program.clinic.today()
    url = f"{ENROLLMENTS}{stay.pk}/discharge/"

    page = clinician_client.get(url)
    assert page.status_code == 200
    assert 'name="date"' in html(page)
    assert 'value="ama"' in html(page)
    assert 'value="transferred"' not in html(page)

    response = clinician_client.post(url, {"date": today.isoformat(), "reason": "completed"})

    assert response.status_code == 302
    assert response["Location"] == change_url(stay)
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.DISCHARGED
    assert (stay.discharge_date, stay.discharge_reason) == (today, DischargeReason.COMPLETED)
    event = audit_rows(AuditAction.UPDATE, object_type="programs.enrollment").get()
    assert (event.actor, event.patient_id) == (clinician, stay.patient_id)
    assert (
        "success",
        f"{stay.patient} was discharged from {stay.program} on {today} (completed).",
    ) in (message_texts(response))


def test_discharging_a_waitlisted_enrollment_shows_the_services_refusal(
    admissions_client, waitlisted
):
    today = waitlisted.program.clinic.today()
    before = audit_rows(AuditAction.UPDATE).count()

    response = admissions_client.post(
        f"{ENROLLMENTS}{waitlisted.pk}/discharge/",
        {"date": today.isoformat(), "reason": "completed"},
    )

    assert response.status_code == 200
    assert "Only an admitted enrollment can be discharged; this one is waitlisted." in html(
        response
    )
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.WAITLISTED
    assert audit_rows(AuditAction.UPDATE).count() == before


def test_a_discharge_before_the_admission_is_a_field_error(admissions_client, stay):
    day_before = stay.start_date - datetime.timedelta(days=1)

    response = admissions_client.post(
        f"{ENROLLMENTS}{stay.pk}/discharge/", {"date": day_before.isoformat(), "reason": "ama"}
    )

    assert response.status_code == 200
    assert f"A discharge cannot be before the admission ({stay.start_date})." in html(response)
    assert response.context["form"].errors["date"]
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.ADMITTED


# 3. Admit and cancel from the waitlist ------------------------------------------------------------


def test_the_admit_page_admits_a_waitlisted_patient_once_a_place_is_free(
    admissions_client, admissions, waitlisted
):
    program = waitlisted.program
    occupant = Enrollment.objects.get(program=program, status=EnrollmentStatus.ADMITTED)
    services.enrollment_discharge(
        actor=admissions, enrollment=occupant, date=program.clinic.today(), reason="completed"
    )

    response = admissions_client.post(f"{ENROLLMENTS}{waitlisted.pk}/admit/", {"start_date": ""})

    assert response.status_code == 302
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.ADMITTED
    assert waitlisted.start_date == program.clinic.today()
    assert audit_rows(
        AuditAction.UPDATE, object_type="programs.enrollment", patient_id=waitlisted.patient_id
    ).exists()


def test_admitting_into_a_full_program_shows_the_services_refusal(admissions_client, waitlisted):
    response = admissions_client.post(f"{ENROLLMENTS}{waitlisted.pk}/admit/", {"start_date": ""})

    assert response.status_code == 200
    assert "has no free place" in html(response)
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.WAITLISTED


def test_the_cancel_page_cancels_a_waitlisted_enrollment(admissions_client, waitlisted):
    url = f"{ENROLLMENTS}{waitlisted.pk}/cancel/"
    assert admissions_client.get(url).status_code == 200

    response = admissions_client.post(url)

    assert response.status_code == 302
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.CANCELLED
    assert audit_rows(AuditAction.UPDATE, patient_id=waitlisted.patient_id).count() == 1


def test_the_cancel_pages_reason_goes_in_the_status_history(admissions_client, waitlisted):
    response = admissions_client.post(
        f"{ENROLLMENTS}{waitlisted.pk}/cancel/", {"reason": "Moved out of state."}
    )

    assert response.status_code == 302
    change = waitlisted.status_changes.last()
    assert (change.from_status, change.to_status, change.reason) == (
        EnrollmentStatus.WAITLISTED,
        EnrollmentStatus.CANCELLED,
        "Moved out of state.",
    )


def test_cancelling_an_admitted_enrollment_shows_the_services_refusal(admissions_client, stay):
    response = admissions_client.post(f"{ENROLLMENTS}{stay.pk}/cancel/")

    assert response.status_code == 200
    assert "Only a waitlisted enrollment can be cancelled; this one is admitted." in html(response)
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.ADMITTED
