"""Step-downs, step-ups and bed assignments from the enrollment admin."""

import pytest
from django.utils.html import escape

from clinic.models import AuditAction, Bed
from programs.models import BedAssignment, Enrollment, EnrollmentStatus, Transition
from programs.services import enrollments as services
from tests.factories import PatientFactory
from tests.programs.admin.helpers import (
    ENROLLMENTS,
    PROGRAMS,
    audit_rows,
    change_url,
    enroll,
    html,
    log_in,
    transition_form,
)

pytestmark = pytest.mark.django_db


def test_a_step_down_moves_the_patient_in_one_go(clinician_client, clinician, stay, iop):
    today = iop.clinic.today()

    response = clinician_client.post(f"{ENROLLMENTS}{stay.pk}/transition/", transition_form(iop))

    assert response.status_code == 302
    move = Transition.objects.get()
    assert response["Location"] == change_url(move.to_enrollment)
    stay.refresh_from_db()
    assert (stay.status, stay.discharge_reason) == (EnrollmentStatus.DISCHARGED, "transferred")
    assert stay.discharge_date == today
    target = move.to_enrollment
    assert (target.program, target.status, target.start_date) == (
        iop,
        EnrollmentStatus.ADMITTED,
        today,
    )
    assert (move.kind, move.decided_by) == ("step_down", clinician)
    assert audit_rows(AuditAction.CREATE, object_type="programs.transition").count() == 1
    assert audit_rows(AuditAction.UPDATE, object_id=str(stay.pk)).count() == 1


def test_a_step_down_to_a_more_intensive_program_shows_the_services_refusal(
    clinician_client, admissions, brennan, residential, iop
):
    in_iop = enroll(admissions, brennan, iop)

    response = clinician_client.post(
        f"{ENROLLMENTS}{in_iop.pk}/transition/", transition_form(residential)
    )

    assert response.status_code == 200
    assert (
        "A step-down goes to a less intensive level than iop; Riverside Residential is "
        "residential." in html(response)
    )
    assert response.context["form"].errors["kind"]
    in_iop.refresh_from_db()
    assert in_iop.status == EnrollmentStatus.ADMITTED
    assert not Transition.objects.exists()
    assert Enrollment.objects.filter(program=residential).count() == 0


def test_a_transition_into_a_full_program_leaves_both_enrollments_as_they_were(
    clinician_client, admissions, stay, iop
):
    iop.capacity = 1
    iop.save(update_fields=["capacity"])
    enroll(admissions, PatientFactory(clinic=iop.clinic, actor=admissions, first_name="Maria"), iop)

    response = clinician_client.post(f"{ENROLLMENTS}{stay.pk}/transition/", transition_form(iop))

    assert response.status_code == 200
    assert "Evening IOP has no free place" in html(response)
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.ADMITTED
    assert not Transition.objects.exists()


def test_the_transition_form_offers_only_the_users_clinics_programs(
    clinician_client, stay, iop, stranger_stay
):
    page = clinician_client.get(f"{ENROLLMENTS}{stay.pk}/transition/")

    offered = set(page.context["form"].fields["to_program"].queryset)
    assert offered == {iop}
    assert "Faraway Residential" not in html(page)

    response = clinician_client.post(
        f"{ENROLLMENTS}{stay.pk}/transition/",
        transition_form(stranger_stay.program, kind="lateral"),
    )

    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.ADMITTED


def test_the_bed_page_assigns_a_bed(admissions_client, admissions, stay, beds):
    response = admissions_client.post(
        f"{ENROLLMENTS}{stay.pk}/bed/", {"bed": str(beds[0].pk), "date": ""}
    )

    assert response.status_code == 302
    assignment = BedAssignment.objects.get()
    assert (assignment.bed, assignment.enrollment, assignment.end_date) == (beds[0], stay, None)
    assert assignment.assigned_by == admissions
    assert audit_rows(AuditAction.CREATE, object_type="programs.bedassignment").count() == 1


def test_a_taken_bed_shows_the_services_refusal(admissions_client, admissions, stay, brennan, beds):
    other = enroll(admissions, brennan, stay.program)
    services.bed_assign(actor=admissions, enrollment=other, bed=beds[0])

    response = admissions_client.post(
        f"{ENROLLMENTS}{stay.pk}/bed/", {"bed": str(beds[0].pk), "date": ""}
    )

    assert response.status_code == 200
    assert f"Bed R1-A is taken from {stay.program.clinic.today()}." in html(response)
    assert not BedAssignment.objects.filter(enrollment=stay).exists()


def test_the_bed_page_offers_only_the_programs_beds(admissions_client, clinic, stay, beds):
    elsewhere = Bed.objects.create(clinic=clinic, room="R9", label="Z")

    page = admissions_client.get(f"{ENROLLMENTS}{stay.pk}/bed/")

    assert set(page.context["form"].fields["bed"].queryset) == set(beds)
    response = admissions_client.post(
        f"{ENROLLMENTS}{stay.pk}/bed/", {"bed": str(elsewhere.pk), "date": ""}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in html(response)


def test_the_program_page_shows_who_is_in_each_bed_today(
    client, supervisor, admissions, stay, beds
):
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[1])
    log_in(client, supervisor)

    response = client.get(f"{PROGRAMS}{stay.program_id}/change/")

    assert response.status_code == 200
    page = html(response)
    assert "R1-A" in page
    assert "R1-B" in page
    assert escape(str(stay.patient)) in page
    assert "free" in page
    # The table names a patient: the page is audited like a list of that patient's records.
    assert audit_rows(AuditAction.LIST, patient_id=stay.patient_id).count() == 1
