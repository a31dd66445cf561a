"""The pipeline's last steps in the admin: the inquiry page's buttons "Schedule admission",
"Admit" and "Close (not admitted)", each a page calling one service."""

import pytest

from programs.models import AdmissionHold, Enrollment, HoldStatus, InquiryStatus
from tests.factories import (
    EnrollmentFactory,
    InquiryFactory,
    PatientFactory,
    ProgramFactory,
    staff_user,
)
from tests.programs.admin.helpers import html, log_in
from tests.programs.admissions.holds import TODAY, days, residential_with_beds, schedule, verified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

INQUIRIES = "/admin/programs/inquiry/"


def test_the_buttons_follow_the_stage_and_the_role(client, clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    fresh = InquiryFactory(clinic=clinic, actor=admissions)
    ready = verified(clinic, admissions)
    booked = verified(clinic, admissions)
    schedule(admissions, booked, program)
    log_in(client, admissions)

    fresh_page = html(client.get(f"{INQUIRIES}{fresh.pk}/change/"))
    ready_page = html(client.get(f"{INQUIRIES}{ready.pk}/change/"))
    booked_page = html(client.get(f"{INQUIRIES}{booked.pk}/change/"))

    assert f"{fresh.pk}/schedule_admission/" not in fresh_page
    assert f"{fresh.pk}/close/" in fresh_page
    assert f"{ready.pk}/schedule_admission/" in ready_page
    assert f"{ready.pk}/admit/" not in ready_page
    assert f"{booked.pk}/schedule_admission/" in booked_page  # rescheduling
    assert f"{booked.pk}/admit/" in booked_page
    clinician = staff_user(role="clinician", clinics=[clinic])
    client.logout()
    log_in(client, clinician)
    assert f"{booked.pk}/admit/" not in html(client.get(f"{INQUIRIES}{booked.pk}/change/"))
    assert client.get(f"{INQUIRIES}{booked.pk}/admit/").status_code == 403


def test_the_schedule_page_holds_a_place_and_a_bed(client, clinic, admissions):
    program = residential_with_beds(clinic, beds=2)
    bed = program.beds.order_by("label").last()
    inquiry = verified(clinic, admissions)
    log_in(client, admissions)
    url = f"{INQUIRIES}{inquiry.pk}/schedule_admission/"

    opened = client.get(url)
    response = client.post(
        url,
        {"program": str(program.pk), "admission_date": str(TODAY + days(2)), "bed": str(bed.pk)},
    )

    assert opened.status_code == 200
    assert response.status_code == 302
    hold = AdmissionHold.objects.get()
    assert (hold.program, hold.bed, hold.admission_date) == (program, bed, TODAY + days(2))
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.SCHEDULED


def test_the_schedule_page_shows_the_services_refusal(client, clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True, capacity=1)
    schedule(admissions, verified(clinic, admissions), program)
    inquiry = verified(clinic, admissions)
    log_in(client, admissions)

    response = client.post(
        f"{INQUIRIES}{inquiry.pk}/schedule_admission/",
        {"program": str(program.pk), "admission_date": str(TODAY)},
    )

    assert response.status_code == 200
    assert "has no free place" in html(response)
    assert AdmissionHold.objects.count() == 1


def test_the_close_page_closes_with_the_reason_and_releases_the_hold(client, clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    inquiry = verified(clinic, admissions)
    hold = schedule(admissions, inquiry, program)
    log_in(client, admissions)

    response = client.post(
        f"{INQUIRIES}{inquiry.pk}/close/", {"reason": "chose_elsewhere", "note": "Nearer home."}
    )

    assert response.status_code == 302
    inquiry.refresh_from_db()
    hold.refresh_from_db()
    assert (inquiry.status, inquiry.not_admitted_reason) == ("not_admitted", "chose_elsewhere")
    assert hold.status == HoldStatus.RELEASED


def test_the_admit_page_admits_a_new_or_an_existing_patient(client, clinic, admissions):
    program = ProgramFactory(clinic=clinic, outpatient=True)
    newcomer = verified(clinic, admissions, date_of_birth=TODAY.replace(year=1990))
    returning = verified(clinic, admissions)
    schedule(admissions, newcomer, program)
    schedule(admissions, returning, program)
    patient = PatientFactory(clinic=clinic)
    log_in(client, admissions)

    first = client.post(f"{INQUIRIES}{newcomer.pk}/admit/", {"mrn": ""})
    unknown = client.post(f"{INQUIRIES}{returning.pk}/admit/", {"mrn": "NOPE-1"})
    second = client.post(f"{INQUIRIES}{returning.pk}/admit/", {"mrn": patient.mrn})

    assert first.status_code == 302
    assert unknown.status_code == 200
    assert "No patient of the inquiry&#x27;s clinic has this MRN." in html(unknown)
    assert second.status_code == 302
    newcomer.refresh_from_db()
    returning.refresh_from_db()
    assert newcomer.status == returning.status == InquiryStatus.ADMITTED
    assert returning.patient == patient
    assert Enrollment.objects.filter(program=program, status="admitted").count() == 2


def test_the_bed_board_and_the_bed_form_show_a_held_bed_as_held_naming_no_one(
    client, clinic, admissions, supervisor
):
    program = residential_with_beds(clinic, capacity=4, beds=2)
    first_bed, second_bed = program.beds.order_by("label")
    schedule(
        admissions,
        verified(clinic, admissions, last_name="Heldwell"),
        program,
        TODAY + days(2),
        bed=second_bed,
    )
    stay = EnrollmentFactory(program=program, start_date=TODAY)

    text = html(log_in(client, supervisor).get("/admin/programs/enrollment/census/"))
    assert "2 beds, 1 free. 1 held for a scheduled admission." in text
    held = text[text.index(f'data-bed="{second_bed.pk}"') :]
    held = held[: held.index("</li>")]
    assert "held" in held
    assert f"for an admission on {TODAY + days(2):%Y-%m-%d}" in held
    assert "Heldwell" not in text

    client.logout()
    options = html(log_in(client, admissions).get(f"/admin/programs/enrollment/{stay.pk}/bed/"))
    assert f"{first_bed} (free)" in options
    assert f"{second_bed} (held)" in options
