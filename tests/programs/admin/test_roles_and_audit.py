"""Who may do what in the enrollment admin, what its change page shows, and the audit rows it
writes."""

import datetime

import pytest
import time_machine

from clinic.models import AuditAction
from programs.models import Enrollment, EnrollmentStatus, Transition
from programs.services import enrollments as services
from tests.programs.admin.helpers import (
    ENROLLMENTS,
    PROGRAMS,
    TRANSITIONS,
    audit_rows,
    change_url,
    enroll,
    html,
    log_in,
    transition_form,
)

pytestmark = pytest.mark.django_db


# 8. Roles -----------------------------------------------------------------------------------------


def test_a_supervisor_reads_enrollments_but_cannot_discharge(client, supervisor, stay):
    log_in(client, supervisor)

    assert client.get(ENROLLMENTS).status_code == 200
    assert client.get(change_url(stay)).status_code == 200
    response = client.post(
        f"{ENROLLMENTS}{stay.pk}/discharge/",
        {"date": stay.program.clinic.today().isoformat(), "reason": "completed"},
    )

    assert response.status_code == 403
    stay.refresh_from_db()
    assert stay.status == EnrollmentStatus.ADMITTED
    assert client.get(f"{ENROLLMENTS}add/").status_code == 403


def test_a_clinician_cannot_admit(clinician_client, admissions, waitlisted):
    program = waitlisted.program
    occupant = Enrollment.objects.get(program=program, status=EnrollmentStatus.ADMITTED)
    services.enrollment_discharge(
        actor=admissions, enrollment=occupant, date=program.clinic.today(), reason="completed"
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
        date=iop.clinic.today(),
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
