"""The programs admin (programs.admin, clinic.admin.BedAdmin): admissions through the service,
the enrollment actions and their intermediate pages with the services' messages, clinic scoping,
role permissions, audit rows, and program configuration with the level's defaults."""

import datetime

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.utils.html import escape

from clinic.errors import Conflict
from clinic.models import AuditAction, AuditEvent, Bed
from patients.models import Level
from programs.admin import EnrollmentAdmin, ProgramAdmin, TransitionAdmin
from programs.models import (
    LEVEL_DEFAULTS,
    BedAssignment,
    DischargeReason,
    Enrollment,
    EnrollmentStatus,
    Program,
    Transition,
)
from programs.selectors import clinic_today
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, admin_login, staff_user

pytestmark = pytest.mark.django_db

ENROLLMENTS = "/admin/programs/enrollment/"
PROGRAMS = "/admin/programs/program/"
TRANSITIONS = "/admin/programs/transition/"
BEDS = "/admin/clinic/bed/"


# Helpers ------------------------------------------------------------------------------------------


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def enroll(actor, patient, program, start_date=None, **kwargs):
    return services.enrollment_create(
        actor=actor,
        patient=patient,
        program=program,
        start_date=start_date or clinic_today(program),
        **kwargs,
    )


def html(response) -> str:
    return response.content.decode()


def message_texts(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def audit_rows(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)


def change_url(enrollment) -> str:
    return f"{ENROLLMENTS}{enrollment.pk}/change/"


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def admissions_client(client, admissions):
    return log_in(client, admissions)


@pytest.fixture
def clinician_client(client, clinician):
    return log_in(client, clinician)


@pytest.fixture
def residential(clinic):
    return ProgramFactory(clinic=clinic, name="Riverside Residential", capacity=2)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(
        clinic=clinic, name="Evening IOP", level=Level.IOP, capacity=10, track="evening"
    )


@pytest.fixture
def alvarez(admissions, clinic):
    return PatientFactory(clinic=clinic, actor=admissions, last_name="Alvarez", first_name="Maria")


@pytest.fixture
def brennan(admissions, clinic):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Thomas", last_name="Brennan")


@pytest.fixture
def stay(admissions, alvarez, residential):
    """Alvarez, admitted to the residential program today."""
    return enroll(admissions, alvarez, residential)


@pytest.fixture
def waitlisted(admissions, brennan, residential):
    """Brennan on the waitlist of the (then full) residential program."""
    admitted = Enrollment.objects.filter(program=residential, status=EnrollmentStatus.ADMITTED)
    residential.capacity = admitted.count() + 1
    residential.save(update_fields=["capacity"])
    other = PatientFactory(
        clinic=residential.clinic, actor=admissions, last_name="Occupant", first_name="Maria"
    )
    enroll(admissions, other, residential)
    entry = enroll(admissions, brennan, residential, waitlist=True)
    assert entry.status == EnrollmentStatus.WAITLISTED
    return entry


@pytest.fixture
def stranger_stay(other_clinic):
    """An admitted patient of another clinic, with a name that appears nowhere else."""
    staff = staff_user(role="admissions", clinics=[other_clinic])
    patient = PatientFactory(
        clinic=other_clinic, actor=staff, first_name="Zebulon", last_name="Quimbyfaraway"
    )
    program = ProgramFactory(clinic=other_clinic, name="Faraway Residential", capacity=2)
    return enroll(staff, patient, program)


# 1. Admissions through the add form ---------------------------------------------------------------


def enrollment_form(patient, program, **overrides):
    data = {
        "patient": str(patient.pk),
        "program": str(program.pk),
        "start_date": clinic_today(program).isoformat(),
        "planned_end_date": "",
        "primary_clinician": "",
        "assessment": "",
        "priority": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_the_add_form_admits_through_the_service(admissions_client, admissions, alvarez, iop):
    response = admissions_client.post(f"{ENROLLMENTS}add/", enrollment_form(alvarez, iop))

    assert response.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.patient, enrollment.program) == (alvarez, iop)
    assert enrollment.status == EnrollmentStatus.ADMITTED
    assert enrollment.level == Level.IOP
    assert enrollment.created_by == admissions
    # The program's planned stay: IOP plans 84 days.
    assert enrollment.planned_end_date == clinic_today(iop) + datetime.timedelta(days=84)
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
    assert f"{residential.name} has no free place from {clinic_today(residential)}" in html(
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
    too_short = clinic_today(iop) + datetime.timedelta(days=10)

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
    today = clinic_today(stay.program)
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
    today = clinic_today(waitlisted.program)
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
        actor=admissions, enrollment=occupant, date=clinic_today(program), reason="completed"
    )

    response = admissions_client.post(f"{ENROLLMENTS}{waitlisted.pk}/admit/", {"start_date": ""})

    assert response.status_code == 302
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.ADMITTED
    assert waitlisted.start_date == clinic_today(program)
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


# 4. Transitions -----------------------------------------------------------------------------------


def transition_form(program, **overrides):
    data = {
        "to_program": str(program.pk),
        "date": clinic_today(program).isoformat(),
        "kind": "step_down",
        "reason": "Stable after detox; ready for evening IOP.",
        "assessment": "",
    }
    data.update(overrides)
    return data


def test_a_step_down_moves_the_patient_in_one_go(clinician_client, clinician, stay, iop):
    today = clinic_today(iop)

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


# 5. Beds ------------------------------------------------------------------------------------------


@pytest.fixture
def beds(clinic, residential):
    first = Bed.objects.create(clinic=clinic, room="R1", label="A")
    second = Bed.objects.create(clinic=clinic, room="R1", label="B")
    residential.beds.add(first, second)
    return first, second


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
    assert f"Bed R1-A is taken from {clinic_today(stay.program)}." in html(response)
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


# 6. Changelist actions ----------------------------------------------------------------------------


def test_the_bulk_discharge_reports_each_success_and_each_refusal(
    admissions_client, admissions, stay, brennan, waitlisted
):
    in_iop = enroll(
        admissions,
        brennan,
        ProgramFactory(clinic=stay.program.clinic, name="Day IOP", level=Level.IOP, capacity=5),
    )

    response = admissions_client.post(
        ENROLLMENTS,
        {
            "action": "discharge_selected_completed_today",
            "_selected_action": [str(stay.pk), str(in_iop.pk), str(waitlisted.pk)],
        },
    )

    assert response.status_code == 302
    reported = message_texts(response)
    successes = [text for level, text in reported if level == "success"]
    errors = [text for level, text in reported if level == "error"]
    assert len(successes) == 2
    assert errors == [
        f"{waitlisted.patient}: Only an admitted enrollment can be discharged; "
        "this one is waitlisted."
    ]
    stay.refresh_from_db()
    in_iop.refresh_from_db()
    waitlisted.refresh_from_db()
    assert stay.status == in_iop.status == EnrollmentStatus.DISCHARGED
    assert stay.discharge_reason == DischargeReason.COMPLETED
    assert waitlisted.status == EnrollmentStatus.WAITLISTED


def test_the_bulk_admit_reports_a_full_program(admissions_client, waitlisted):
    response = admissions_client.post(
        ENROLLMENTS, {"action": "admit_selected", "_selected_action": [str(waitlisted.pk)]}
    )

    assert response.status_code == 302
    [(level, text)] = message_texts(response)
    assert level == "error"
    assert "has no free place" in text
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.WAITLISTED


def test_the_bulk_cancel_takes_patients_off_the_waitlist(admissions_client, waitlisted):
    response = admissions_client.post(
        ENROLLMENTS, {"action": "cancel_selected", "_selected_action": [str(waitlisted.pk)]}
    )

    assert response.status_code == 302
    assert [level for level, _text in message_texts(response)] == ["success"]
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.CANCELLED


def test_the_transition_action_opens_the_page_for_one_enrollment(clinician_client, stay):
    response = clinician_client.post(
        ENROLLMENTS, {"action": "transition_one", "_selected_action": [str(stay.pk)]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{ENROLLMENTS}{stay.pk}/transition/"


def test_the_actions_offered_follow_the_role(client, admissions, clinician, supervisor, stay):
    def offered(user):
        admin_login(client, user)
        form = client.get(ENROLLMENTS).context["action_form"]
        if form is None:
            return set()
        return {name for name, _label in form.fields["action"].choices if name}

    for user in (admissions, clinician, supervisor):
        log_in(client, user)
    assert offered(admissions) == {
        "admit_selected",
        "cancel_selected",
        "discharge_selected_completed_today",
        "discharge_one",
        "assign_bed_one",
    }
    assert offered(clinician) == {
        "discharge_selected_completed_today",
        "discharge_one",
        "transition_one",
    }
    assert offered(supervisor) == set()


# 7. Scoping ---------------------------------------------------------------------------------------


def test_the_changelist_shows_only_the_users_clinics(admissions_client, stay, stranger_stay):
    response = admissions_client.get(ENROLLMENTS)

    assert response.status_code == 200
    assert {e.pk for e in response.context["cl"].result_list} == {stay.pk}
    assert "Quimbyfaraway" not in html(response)
    assert "Faraway Residential" not in html(response)


def test_another_clinics_enrollment_page_is_not_shown(admissions_client, stranger_stay):
    response = admissions_client.get(change_url(stranger_stay))

    assert response.status_code == 302
    assert "Quimbyfaraway" not in html(admissions_client.get(response["Location"]))
    assert not audit_rows(AuditAction.READ, patient_id=stranger_stay.patient_id).exists()


def test_another_clinics_enrollment_cannot_be_discharged(admissions_client, stranger_stay):
    response = admissions_client.post(
        f"{ENROLLMENTS}{stranger_stay.pk}/discharge/",
        {"date": clinic_today(stranger_stay.program).isoformat(), "reason": "completed"},
    )

    assert response.status_code == 302
    stranger_stay.refresh_from_db()
    assert stranger_stay.status == EnrollmentStatus.ADMITTED


def test_the_program_filter_offers_only_the_users_clinics_programs(
    admissions_client, residential, iop, stranger_stay
):
    response = admissions_client.get(ENROLLMENTS)

    program_filter = next(
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", None) == "program"
    )
    assert {pk for pk, _ in program_filter.lookup_choices} == {residential.pk, iop.pk}


def test_the_patient_autocomplete_offers_only_the_users_clinics_patients(
    admissions_client, alvarez, stranger_stay
):
    response = admissions_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "programs",
            "model_name": "enrollment",
            "field_name": "patient",
            "term": "",
        },
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(alvarez.pk)]


def test_search_by_mrn_and_name(admissions_client, stay, waitlisted):
    by_mrn = admissions_client.get(ENROLLMENTS, {"q": stay.patient.mrn})
    by_name = admissions_client.get(ENROLLMENTS, {"q": "Brennan"})

    assert {e.pk for e in by_mrn.context["cl"].result_list} == {stay.pk}
    assert {e.pk for e in by_name.context["cl"].result_list} == {waitlisted.pk}


# 8. Roles -----------------------------------------------------------------------------------------


def test_a_supervisor_reads_enrollments_but_cannot_discharge(client, supervisor, stay):
    log_in(client, supervisor)

    assert client.get(ENROLLMENTS).status_code == 200
    assert client.get(change_url(stay)).status_code == 200
    response = client.post(
        f"{ENROLLMENTS}{stay.pk}/discharge/",
        {"date": clinic_today(stay.program).isoformat(), "reason": "completed"},
    )

    assert response.status_code == 403
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.ADMITTED
    assert client.get(f"{ENROLLMENTS}add/").status_code == 403


def test_a_clinician_cannot_admit(clinician_client, admissions, waitlisted):
    program = waitlisted.program
    occupant = Enrollment.objects.get(program=program, status=EnrollmentStatus.ADMITTED)
    services.enrollment_discharge(
        actor=admissions, enrollment=occupant, date=clinic_today(program), reason="completed"
    )

    page = clinician_client.post(f"{ENROLLMENTS}{waitlisted.pk}/admit/", {"start_date": ""})
    action = clinician_client.post(
        ENROLLMENTS, {"action": "admit_selected", "_selected_action": [str(waitlisted.pk)]}
    )

    assert page.status_code == 403
    assert action.status_code in (200, 302)
    waitlisted.refresh_from_db()
    assert waitlisted.status == EnrollmentStatus.WAITLISTED
    assert clinician_client.get(f"{ENROLLMENTS}add/").status_code == 403


def test_admissions_cannot_transition(admissions_client, stay, iop):
    assert admissions_client.get(f"{ENROLLMENTS}{stay.pk}/transition/").status_code == 403

    response = admissions_client.post(f"{ENROLLMENTS}{stay.pk}/transition/", transition_form(iop))

    assert response.status_code == 403
    assert not Transition.objects.exists()


def test_a_user_without_a_role_gets_403(client, user_without_role, stay):
    log_in(client, user_without_role)

    assert client.get(ENROLLMENTS).status_code == 403
    assert client.get(change_url(stay)).status_code == 403
    assert client.get(f"{ENROLLMENTS}{stay.pk}/discharge/").status_code == 403
    assert client.get(PROGRAMS).status_code == 403
    assert client.get(TRANSITIONS).status_code == 403
    assert not audit_rows(AuditAction.LIST).exists()


def test_the_change_page_is_read_only_with_buttons_for_the_allowed_actions(
    client, admissions, clinician, stay
):
    log_in(client, admissions)
    page = html(client.get(change_url(stay)))
    assert f"{ENROLLMENTS}{stay.pk}/discharge/" in page
    assert f"{ENROLLMENTS}{stay.pk}/transition/" not in page
    assert f"{ENROLLMENTS}{stay.pk}/admit/" not in page
    assert 'name="start_date"' not in page

    log_in(client, clinician)
    page = html(client.get(change_url(stay)))
    assert f"{ENROLLMENTS}{stay.pk}/transition/" in page

    response = client.post(change_url(stay), {"start_date": "2020-01-01"})
    assert response.status_code == 403


def test_the_change_page_shows_the_status_history(
    admissions_client, admissions, clinician, alvarez, residential
):
    # given: admitted on 1 December from the 3rd (New York), discharged by a clinician
    with time_machine.travel(datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC), tick=False):
        stay = enroll(admissions, alvarez, residential, start_date=datetime.date(2026, 12, 3))
    with time_machine.travel(datetime.datetime(2026, 12, 20, 17, tzinfo=datetime.UTC), tick=False):
        services.enrollment_discharge(
            actor=clinician, enrollment=stay, date=datetime.date(2026, 12, 20), reason="ama"
        )

    # when
    page = html(admissions_client.get(change_url(stay)))

    # then: a row per change, oldest first, times in the clinic's zone; the requested start
    assert "Status history" in page
    created = (
        "<td>(new)</td><td>Admitted</td><td>2026-12-03</td><td>2026-12-01 10:00</td>"
        f"<td>{admissions.username}</td><td></td>"
    )
    discharged = (
        "<td>Admitted</td><td>Discharged</td><td>2026-12-20</td><td>2026-12-20 12:00</td>"
        f"<td>{clinician.username}</td><td>ama</td>"
    )
    assert created in page
    assert discharged in page
    assert page.index(created) < page.index(discharged)
    assert "Requested start date" in page


# 9. Audit -----------------------------------------------------------------------------------------


def test_opening_an_enrollment_writes_a_read_audit_row(admissions_client, admissions, stay):
    admissions_client.get(change_url(stay))

    event = audit_rows(AuditAction.READ).get()
    assert (event.actor, event.patient_id) == (admissions, stay.patient_id)
    assert (event.object_type, event.object_id) == ("programs.enrollment", str(stay.pk))


def test_the_changelist_writes_a_list_row_per_enrollment_shown(
    admissions_client, stay, waitlisted, stranger_stay
):
    admissions_client.get(ENROLLMENTS)

    shown = set(
        Enrollment.objects.exclude(pk=stranger_stay.pk).values_list("patient_id", flat=True)
    )
    assert {e.patient_id for e in audit_rows(AuditAction.LIST)} == shown
    assert audit_rows(AuditAction.LIST).count() == len(shown)


def test_transitions_are_listed_read_only_scoped_and_audited(
    clinician_client, clinician, stay, iop, stranger_stay
):
    move = services.transition_create(
        actor=clinician,
        enrollment=stay,
        to_program=iop,
        date=clinic_today(iop),
        kind="step_down",
        reason="Ready for IOP.",
    )

    listing = clinician_client.get(TRANSITIONS)
    assert listing.status_code == 200
    assert [m.pk for m in listing.context["cl"].result_list] == [move.pk]
    assert audit_rows(AuditAction.LIST, patient_id=stay.patient_id).count() == 1
    # Found by the patient's name or MRN; "Patient" shows (and sorts by) the moved patient.
    for query in [stay.patient.last_name, f"{stay.patient.mrn}"]:
        found = clinician_client.get(TRANSITIONS, {"q": query}).context["cl"].result_list
        assert [m.pk for m in found] == [move.pk]
    assert not clinician_client.get(TRANSITIONS, {"q": "Nobody"}).context["cl"].result_list
    assert str(stay.patient) in html(listing)

    page = clinician_client.get(f"{TRANSITIONS}{move.pk}/change/")
    assert page.status_code == 200
    assert "Ready for IOP." in html(page)
    assert audit_rows(AuditAction.READ, object_type="programs.transition").count() == 1
    assert clinician_client.get(f"{TRANSITIONS}add/").status_code == 403


# 10. Programs -------------------------------------------------------------------------------------


def program_form(clinic, **overrides):
    data = {
        "clinic": str(clinic.pk),
        "name": "Harbor IOP",
        "level": "iop",
        "track": "day",
        "capacity": "12",
        "waitlist_offer_hours": "48",
        "is_active": "on",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_a_new_program_with_empty_bounds_takes_the_levels_defaults(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(f"{PROGRAMS}add/", program_form(clinic))

    assert response.status_code == 302
    program = Program.objects.get()
    for name, value in LEVEL_DEFAULTS[Level.IOP].items():
        assert getattr(program, name) == value, name
    event = audit_rows(AuditAction.CREATE, object_type="programs.program").get()
    assert (event.actor, event.clinic, event.patient_id) == (supervisor, clinic, None)


def test_a_bound_given_on_the_add_form_is_kept(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{PROGRAMS}add/", program_form(clinic, max_stay_days="120", default_stay_days="60")
    )

    assert response.status_code == 302
    program = Program.objects.get()
    assert (program.min_stay_days, program.max_stay_days, program.default_stay_days) == (
        42,
        120,
        60,
    )


def test_a_violated_check_constraint_is_a_form_error(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{PROGRAMS}add/", program_form(clinic, min_stay_days="100", max_stay_days="30")
    )

    assert response.status_code == 200
    assert "The minimum stay cannot exceed the maximum stay." in html(response)
    assert not Program.objects.exists()
    assert not audit_rows(AuditAction.CREATE).exists()


def test_a_duplicate_program_name_is_a_form_error(client, supervisor, clinic, iop):
    log_in(client, supervisor)

    response = client.post(f"{PROGRAMS}add/", program_form(clinic, name=iop.name))

    assert response.status_code == 200
    assert "This clinic already has a program with this name." in html(response)
    assert Program.objects.count() == 1


def test_editing_a_program_is_validated_and_audited(client, supervisor, iop):
    log_in(client, supervisor)
    url = f"{PROGRAMS}{iop.pk}/change/"
    data = {
        "name": iop.name,
        "track": "evening",
        "capacity": "8",
        "min_stay_days": "42",
        "max_stay_days": "182",
        "default_stay_days": "200",
        "waitlist_offer_hours": "24",
        "is_active": "on",
        "_save": "Save",
    }

    refused = client.post(url, data)

    assert refused.status_code == 200
    assert "The planned stay cannot be longer than the maximum stay." in html(refused)

    saved = client.post(url, {**data, "default_stay_days": "90"})

    assert saved.status_code == 302
    iop.refresh_from_db()
    assert (iop.capacity, iop.default_stay_days, iop.waitlist_offer_hours) == (8, 90, 24)
    assert audit_rows(AuditAction.UPDATE, object_type="programs.program").count() == 1


def test_only_supervisors_configure_programs(client, admissions, clinic, iop):
    log_in(client, admissions)

    assert client.get(PROGRAMS).status_code == 200
    assert client.get(f"{PROGRAMS}{iop.pk}/change/").status_code == 200
    assert client.post(f"{PROGRAMS}add/", program_form(clinic, name="New")).status_code == 403
    assert Program.objects.count() == 1


def test_programs_of_other_clinics_are_hidden(client, supervisor, iop, other_clinic):
    elsewhere = ProgramFactory(clinic=other_clinic, name="Faraway Residential", capacity=2)
    log_in(client, supervisor)

    listing = client.get(PROGRAMS)

    assert {p.pk for p in listing.context["cl"].result_list} == {iop.pk}
    assert client.get(f"{PROGRAMS}{elsewhere.pk}/change/").status_code == 302
    response = client.post(f"{PROGRAMS}add/", program_form(other_clinic))
    assert response.status_code == 200
    assert "Select a valid choice" in html(response)


def test_beds_belong_to_residential_programs(client, supervisor, clinic):
    bed = Bed.objects.create(clinic=clinic, room="R1", label="A")
    log_in(client, supervisor)

    response = client.post(f"{PROGRAMS}add/", program_form(clinic, beds=[str(bed.pk)]))

    assert response.status_code == 200
    assert "Only residential programs have beds." in html(response)

    response = client.post(
        f"{PROGRAMS}add/",
        program_form(clinic, name="Harbor House", level="residential", track="", beds=[bed.pk]),
    )
    assert response.status_code == 302
    assert list(Program.objects.get().beds.all()) == [bed]


# 11. Beds -----------------------------------------------------------------------------------------


def test_a_supervisor_adds_a_bed_and_the_write_is_audited(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{BEDS}add/",
        {"clinic": str(clinic.pk), "room": "R2", "label": "A", "is_active": "on", "_save": "Save"},
    )

    assert response.status_code == 302
    bed = Bed.objects.get()
    assert (bed.clinic, bed.room, bed.label) == (clinic, "R2", "A")
    event = audit_rows(AuditAction.CREATE, object_type="clinic.bed").get()
    assert (event.actor, event.patient_id) == (supervisor, None)


def test_a_duplicate_bed_is_a_form_error(client, supervisor, clinic):
    Bed.objects.create(clinic=clinic, room="R2", label="A")
    log_in(client, supervisor)

    response = client.post(
        f"{BEDS}add/",
        {"clinic": str(clinic.pk), "room": "R2", "label": "A", "is_active": "on", "_save": "Save"},
    )

    assert response.status_code == 200
    assert "This room already has a bed with this label." in html(response)
    assert Bed.objects.count() == 1


def test_beds_are_scoped_and_only_supervisors_write(client, admissions, clinic, other_clinic):
    own = Bed.objects.create(clinic=clinic, room="R1", label="A")
    Bed.objects.create(clinic=other_clinic, room="R1", label="A")
    log_in(client, admissions)

    listing = client.get(BEDS)

    assert listing.status_code == 200
    assert [b.pk for b in listing.context["cl"].result_list] == [own.pk]
    assert client.get(f"{BEDS}add/").status_code == 403


# 12. The services under the admin -----------------------------------------------------------------


def test_a_discharge_dated_before_the_patients_bed_assignment_is_refused_not_a_crash(
    admissions, alvarez, residential, beds
):
    """Admitted two days ago, given a bed today, discharged (recorded late) as of yesterday:
    the service must refuse with a message or end the bed assignment consistently; an
    IntegrityError from the bed_assignment_dates_ordered constraint is a bug."""
    today = clinic_today(residential)
    stay = enroll(admissions, alvarez, residential, start_date=today - datetime.timedelta(days=2))
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0])

    try:
        services.enrollment_discharge(
            actor=admissions,
            enrollment=stay,
            date=today - datetime.timedelta(days=1),
            reason="completed",
        )
    except (ValidationError, Conflict):
        stay.refresh_from_db()
        assert stay.status == EnrollmentStatus.ADMITTED
    else:
        assignment = BedAssignment.objects.get(enrollment=stay)
        assert assignment.end_date is not None
        assert assignment.end_date >= assignment.start_date


def test_the_discharge_page_never_fails_with_a_server_error_on_that_case(
    admissions_client, admissions, alvarez, residential, beds
):
    today = clinic_today(residential)
    stay = enroll(admissions, alvarez, residential, start_date=today - datetime.timedelta(days=2))
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0])

    response = admissions_client.post(
        f"{ENROLLMENTS}{stay.pk}/discharge/",
        {"date": (today - datetime.timedelta(days=1)).isoformat(), "reason": "completed"},
    )

    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["form"].non_field_errors()


def test_moving_a_patient_to_another_bed_from_before_their_current_bed_is_refused_cleanly(
    admissions, alvarez, residential, beds
):
    """Admitted two days ago, put in bed A today, then moved to bed B from the admission date (a
    late correction): the service must refuse with a message or keep the assignments
    consistent; an IntegrityError (bed_assignment_dates_ordered) is a bug."""
    today = clinic_today(residential)
    admitted_on = today - datetime.timedelta(days=2)
    stay = enroll(admissions, alvarez, residential, start_date=admitted_on)
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0])

    try:
        services.bed_assign(actor=admissions, enrollment=stay, bed=beds[1], date=admitted_on)
    except (ValidationError, Conflict):
        assert BedAssignment.objects.get(enrollment=stay).bed == beds[0]
    else:
        for assignment in BedAssignment.objects.filter(enrollment=stay):
            assert assignment.end_date is None or assignment.end_date >= assignment.start_date
