"""The enrollment changelist: bulk actions and their reports, clinic scoping, search."""

import pytest

from clinic.models import AuditAction
from patients.models import Level
from programs.models import DischargeReason, EnrollmentStatus
from tests.factories import ProgramFactory, admin_login
from tests.programs.admin.helpers import (
    ENROLLMENTS,
    audit_rows,
    change_url,
    enroll,
    html,
    log_in,
    message_texts,
)

pytestmark = pytest.mark.django_db


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
        {"date": stranger_stay.program.clinic.today().isoformat(), "reason": "completed"},
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
