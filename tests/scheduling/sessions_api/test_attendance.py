"""Attendance over the API: the roster, recording and correcting, refusals, excused patients,
audit."""

import datetime

import pytest
from django.contrib.postgres.aggregates import ArrayAgg

from clinic.models import AuditAction, AuditEvent
from programs.services import enrollments
from scheduling import services
from scheduling.models import Attendance, Reminder
from tests.factories import PatientFactory, staff_user
from tests.scheduling.sessions_api.helpers import NOW, SESSIONS, TODAY, at, body, parse

pytestmark = pytest.mark.django_db


def test_the_attendance_roster_shows_answers_and_recorded_attendance(
    started, client_for, clinician, enrolled
):
    services.attendance_record(actor=clinician, session=started, patient=enrolled[0], status="late")

    response = client_for(clinician).get(f"{SESSIONS}{started.pk}/attendance/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    rows = response.json()["results"]
    assert [
        (r["patient"], r["patient_name"], r["response"], r["status"], r["recorded_by"])
        for r in rows
    ] == [
        (enrolled[0].pk, "Ana Rivera", "none", "late", clinician.username),
        (enrolled[1].pk, "Ben Rivera", "declined", None, None),
    ]
    assert parse(rows[0]["checked_in_at"]) == NOW
    assert rows[1]["checked_in_at"] is None


def test_reading_the_roster_is_audited_per_patient(started, client_for, admissions, enrolled):
    client_for(admissions).get(f"{SESSIONS}{started.pk}/attendance/")

    rows = AuditEvent.objects.filter(actor=admissions, action=AuditAction.LIST)
    assert sorted(rows.values_list("patient_id", flat=True)) == sorted(p.pk for p in enrolled)
    assert set(rows.values_list("object_type", flat=True)) == {"scheduling.rosterentry"}


def test_recording_then_correcting_attendance(started, client_for, admissions, enrolled):
    client = client_for(admissions)  # the front desk checks people in
    url = f"{SESSIONS}{started.pk}/attendance/"

    first = client.post(url, {"patient": enrolled[0].pk, "status": "present"}, format="json")
    corrected = client.post(url, {"patient": enrolled[0].pk, "status": "excused"}, format="json")

    assert first.status_code == 201, first.content
    assert (first.json()["status"], parse(first.json()["checked_in_at"])) == ("present", NOW)
    assert corrected.status_code == 200
    assert (corrected.json()["status"], corrected.json()["checked_in_at"]) == ("excused", None)
    attendance = Attendance.objects.get()
    assert (attendance.status, attendance.recorded_by) == ("excused", admissions)
    assert list(
        AuditEvent.objects.filter(object_type="scheduling.attendance")
        .order_by("id")
        .values_list("action", "patient_id")
    ) == [(AuditAction.CREATE, enrolled[0].pk), (AuditAction.UPDATE, enrolled[0].pk)]


def test_attendance_of_a_patient_not_on_the_roster_is_a_400(
    started, client_for, clinician, patients
):
    response = client_for(clinician).post(
        f"{SESSIONS}{started.pk}/attendance/",
        {"patient": patients[2].pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "patient": ["The patient is not on this session's roster."]
    }


def test_attendance_of_another_clinics_patient_is_a_400(
    started, client_for, clinician, other_clinic
):
    outsider = PatientFactory(
        clinic=other_clinic,
        actor=staff_user(role="admissions", clinics=[other_clinic]),
        last_name="Rivera",
    )

    response = client_for(clinician).post(
        f"{SESSIONS}{started.pk}/attendance/",
        {"patient": outsider.pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["patient"]


def test_attendance_at_a_cancelled_session_is_a_409(started, client_for, clinician, enrolled):
    services.session_cancel(actor=clinician, session=started)

    response = client_for(clinician).post(
        f"{SESSIONS}{started.pk}/attendance/",
        {"patient": enrolled[0].pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "session_cancelled"
    assert not Attendance.objects.exists()


def test_attendance_long_before_the_start_is_a_409(calendar, client_for, clinician, enrolled):
    response = client_for(clinician).post(
        f"{SESSIONS}{calendar['tomorrow'].pk}/attendance/",
        {"patient": enrolled[0].pk, "status": "present"},
        format="json",
    )

    assert (response.status_code, response.json()["code"]) == (409, "session_not_started")


def test_a_patient_who_calls_ahead_is_excused_and_no_longer_reminded(
    frozen_time, client_for, clinician, admissions, clinic, iop
):
    # given: two patients reminded by e-mail of a program session in two days
    ana, ben = (
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=name,
            last_name="Rivera",
            date_of_birth=datetime.date(1980, 1, 1),
            email=f"{name.lower()}@example.org",
            reminder_channels=["email"],
        )
        for name in ("Ana", "Ben")
    )
    for patient in (ana, ben):
        enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=TODAY
        )
    client = client_for(clinician)
    session = client.post(SESSIONS, body(iop, start=at(days=2)), format="json").json()
    url = f"{SESSIONS}{session['id']}/attendance/"

    # when: Ana calls ahead
    response = client.post(url, {"patient": ana.pk, "status": "excused"}, format="json")

    # then: excused, her reminders of that session cancelled, Ben's untouched
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["checked_in_at"]) == ("excused", None)
    statuses = dict(
        Reminder.objects.filter(session_id=session["id"])
        .values("patient_id")
        .annotate(statuses=ArrayAgg("status", distinct=True))
        .values_list("patient_id", "statuses")
    )
    assert statuses == {ana.pk: ["cancelled"], ben.pk: ["pending"]}
    # and the other statuses still wait for the hour before the start
    present = client.post(url, {"patient": ben.pk, "status": "present"}, format="json")
    assert (present.status_code, present.json()["code"]) == (409, "session_not_started")


def test_a_user_without_a_role_cannot_read_or_record_attendance(
    started, client_for, user_without_role, enrolled
):
    client = client_for(user_without_role)
    url = f"{SESSIONS}{started.pk}/attendance/"

    assert client.get(url).status_code == 403
    assert client.post(url, {"patient": enrolled[0].pk, "status": "present"}).status_code == 403
