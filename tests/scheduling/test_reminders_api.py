"""The staff view of the reminder outbox and the retry of a failed row (API.md "Reminders";
scheduling.api.reminders, selectors.reminder_list)."""

import datetime
import zoneinfo

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic import notifications
from clinic.models import AuditAction, AuditEvent
from programs.services import enrollments
from scheduling import reminders
from scheduling.models import Reminder
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
BASE = "/api/v1/reminders/"
FIELDS = {
    "id",
    "session",
    "patient",
    "channel",
    "kind",
    "offset_minutes",
    "scheduled_for",
    "status",
    "sent_at",
    "attempts",
    "last_error",
}


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


# When the world below is built: 10:00 in New York, three days before the session.
PLANNED = at(12, 1, 10)
SESSION_START = at(12, 4, 18)
# Just after the 24-hour reminders fell due.
DUE = at(12, 3, 18, 1)


@pytest.fixture(autouse=True)
def locmem_channels(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    settings.PUSH_BACKEND = "clinic.notifications.backends.LocmemPushBackend"


def enroll(admissions, patient, program):
    return enrollments.enrollment_create(
        actor=admissions, patient=patient, program=program, start_date=datetime.date(2026, 12, 1)
    )


def run_due(django_capture_on_commit_callbacks):
    """Claim the due rows and send each one, as beat and a worker would."""
    wakes = []
    with django_capture_on_commit_callbacks(execute=True):
        reminders.dispatch(lambda: wakes.append(1))
    return [status for _ in wakes for status in reminders.drain().values()]


@pytest.fixture
def world(clinic, other_clinic, admissions, clinician):
    """Rae (email + SMS) and Ben (email) on one session of the clinic: 6 reminders; Oto on a
    session of another clinic: 2 reminders."""
    other_admissions = staff_user(role="admissions", clinics=[other_clinic])
    other_clinician = staff_user(role="clinician", clinics=[other_clinic])
    with time_machine.travel(PLANNED, tick=False):
        program = ProgramFactory(
            clinic=clinic, level="iop", name="Evening IOP", track="evening", capacity=20
        )
        session = SessionFactory(
            clinic=clinic, actor=clinician, program=program, title="Group", starts_at=SESSION_START
        )
        rae = PatientFactory(
            clinic=clinic,
            actor=admissions,
            reminder_channels=["email", "sms"],
            first_name="Rae",
            reachable=True,
        )
        ben = PatientFactory(
            clinic=clinic,
            actor=admissions,
            reminder_channels=["email"],
            first_name="Ben",
            reachable=True,
        )
        enroll(admissions, rae, program)
        enroll(admissions, ben, program)

        elsewhere = ProgramFactory(
            clinic=other_clinic, level="iop", name="Evening IOP", track="evening", capacity=20
        )
        other_session = SessionFactory(
            clinic=other_clinic,
            actor=other_clinician,
            program=elsewhere,
            title="Group",
            starts_at=SESSION_START,
        )
        oto = PatientFactory(
            clinic=other_clinic,
            actor=other_admissions,
            reminder_channels=["email"],
            first_name="Oto",
            reachable=True,
        )
        enroll(other_admissions, oto, elsewhere)
    return {
        "session": session,
        "rae": rae,
        "ben": ben,
        "other_session": other_session,
        "oto": oto,
    }


@pytest.fixture
def failed_sms(world, monkeypatch, django_capture_on_commit_callbacks):
    """Rae's 24-hour SMS, refused by the provider (not retryable); her e-mail went out."""

    def refused(**kwargs):
        raise notifications.ChannelError("invalid number (400)", retryable=False, code="21211")

    monkeypatch.setattr(notifications, "send_sms", refused)
    with time_machine.travel(DUE, tick=False):
        run_due(django_capture_on_commit_callbacks)
    monkeypatch.undo()
    reminder = Reminder.objects.get(patient=world["rae"], channel="sms", offset_minutes=1440)
    assert reminder.status == "failed"
    return reminder


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> list[int]:
    return [row["id"] for row in results(response)]


# Listing ------------------------------------------------------------------------------------------


def test_the_list_shows_the_callers_clinics_reminders_by_due_time(
    client_for, supervisor, world, clinic
):
    response = client_for(supervisor).get(BASE)

    rows = results(response)
    assert set(response.json()) == {"next", "previous", "results"}
    expected = Reminder.objects.filter(session=world["session"]).order_by("scheduled_for", "id")
    assert [row["id"] for row in rows] == list(expected.values_list("id", flat=True))
    assert len(rows) == 6
    assert {row["session"] for row in rows} == {world["session"].pk}
    assert world["oto"].pk not in {row["patient"] for row in rows}
    assert "no-store" in response["Cache-Control"]


@time_machine.travel(DUE, tick=False)
def test_a_row_carries_the_contract_fields_and_the_sending_state(
    client_for, admissions, failed_sms, world
):
    # when
    response = client_for(admissions).get(BASE, {"patient": world["rae"].pk, "status": "failed"})

    # then
    [row] = results(response)
    assert set(row) == FIELDS
    assert row == {
        "id": failed_sms.pk,
        "session": world["session"].pk,
        "patient": world["rae"].pk,
        "channel": "sms",
        "kind": "reminder",
        "offset_minutes": 1440,
        "scheduled_for": iso(at(12, 3, 18)),
        "status": "failed",
        "sent_at": None,
        "attempts": 1,
        "last_error": "invalid number (400)",
    }
    [sent] = results(
        client_for(admissions).get(
            BASE, {"patient": world["rae"].pk, "channel": "email", "status": "sent"}
        )
    )
    assert (sent["offset_minutes"], sent["sent_at"], sent["attempts"], sent["last_error"]) == (
        1440,
        iso(DUE),
        1,
        "",
    )


def test_filters_by_patient_session_status_and_channel(
    client_for, clinician, admissions, world, clinic
):
    # given: a second session of the clinic on which only Ben is reminded (individual, no program)
    with time_machine.travel(PLANNED, tick=False):
        one_to_one = SessionFactory(
            clinic=clinic,
            patient=world["ben"],
            actor=clinician,
            title="Check-in",
            kind="individual",
            starts_at=at(12, 5, 12),
            ends_at=at(12, 5, 13),
        )
    Reminder.objects.filter(patient=world["rae"], channel="sms", offset_minutes=120).update(
        status="cancelled"
    )
    client = client_for(clinician)

    def listed(**query):
        return sorted(ids(client.get(BASE, query)))

    def pks(**filters):
        return sorted(Reminder.objects.filter(**filters).values_list("id", flat=True))

    assert len(listed()) == 8
    assert listed(patient=world["ben"].pk) == pks(patient=world["ben"])
    assert len(listed(patient=world["ben"].pk)) == 4
    assert listed(session=one_to_one.pk) == pks(session=one_to_one)
    assert len(listed(session=one_to_one.pk)) == 2
    assert listed(status="cancelled") == pks(
        patient=world["rae"], channel="sms", offset_minutes=120
    )
    assert listed(channel="sms") == pks(patient=world["rae"], channel="sms")
    assert len(listed(channel="sms")) == 2
    assert listed(patient=world["rae"].pk, channel="sms", status="pending") == pks(
        patient=world["rae"], channel="sms", offset_minutes=1440
    )
    assert listed(session=world["session"].pk, patient=world["ben"].pk) == pks(
        session=world["session"], patient=world["ben"]
    )
    # Another clinic's patient or session filters to nothing, never to their rows.
    assert listed(patient=world["oto"].pk) == []
    assert listed(session=world["other_session"].pk) == []


def test_an_unknown_status_or_channel_is_a_400(client_for, admissions, world):
    client = client_for(admissions)

    # ``queued`` was a status until API 1.2.0 (CHANGELOG.md): no longer one a filter takes.
    for query in ({"status": "delivered"}, {"status": "queued"}, {"channel": "fax"}):
        response = client.get(BASE, query)

        assert response.status_code == 400, query
        body = response.json()
        assert body["code"] == "invalid"
        assert list(body["fields"]) == list(query)


def test_another_clinics_reminder_is_absent_and_404(client_for, supervisor, world, other_clinic):
    theirs = Reminder.objects.filter(patient=world["oto"]).first()
    client = client_for(supervisor)

    assert theirs.pk not in ids(client.get(BASE))
    response = client.get(f"{BASE}{theirs.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    # Their own staff see it.
    outsider = staff_user(role="supervisor", clinics=[other_clinic])
    assert ids(client_for(outsider).get(BASE)) == list(
        Reminder.objects.filter(patient=world["oto"])
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)
    )


def test_a_member_of_both_clinics_sees_both(client_for, clinic, other_clinic, world):
    both = staff_user(role="clinician", clinics=[clinic, other_clinic])

    assert len(ids(client_for(both).get(BASE))) == 8


def test_the_detail_shows_one_reminder(client_for, clinician, world):
    reminder = Reminder.objects.filter(patient=world["ben"]).first()

    response = client_for(clinician).get(f"{BASE}{reminder.pk}/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert (body["id"], body["patient"], body["status"]) == (
        reminder.pk,
        world["ben"].pk,
        "pending",
    )
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        actor=clinician,
        action=AuditAction.READ,
        object_type="scheduling.reminder",
        object_id=str(reminder.pk),
        patient_id=world["ben"].pk,
        clinic_id=reminder.session.clinic_id,
    ).exists()


# Who may read -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admissions", "clinician", "supervisor"])
def test_every_staff_role_reads(client_for, clinic, world, role):
    user = staff_user(role=role, clinics=[clinic])

    assert len(ids(client_for(user).get(BASE))) == 6


def test_a_user_without_a_role_gets_403_and_no_token_401(client_for, user_without_role, world):
    reminder = Reminder.objects.filter(patient=world["rae"]).first()
    client = client_for(user_without_role)

    for response in (client.get(BASE), client.get(f"{BASE}{reminder.pk}/")):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert client.post(f"{BASE}{reminder.pk}/retry/").status_code == 403
    assert APIClient().get(BASE).status_code == 401
    assert not AuditEvent.objects.filter(object_type="scheduling.reminder").exists()


def test_a_patients_app_account_gets_403(client_for, world):
    app_user = UserFactory()
    world["rae"].app_user = app_user
    world["rae"].save(update_fields=["app_user"])

    assert client_for(app_user).get(BASE).status_code == 403


def test_the_list_is_read_only(client_for, supervisor, world):
    client = client_for(supervisor)
    reminder = Reminder.objects.filter(patient=world["rae"]).first()

    # Refused before the method is looked at (no role may write here but through retry/).
    responses = [
        client.post(BASE, {"session": world["session"].pk}, format="json"),
        client.delete(f"{BASE}{reminder.pk}/"),
        client.patch(f"{BASE}{reminder.pk}/", {"status": "sent"}, format="json"),
    ]
    assert [response.status_code in (403, 405) for response in responses] == [True] * 3
    assert Reminder.objects.count() == 8
    reminder.refresh_from_db()
    assert reminder.status == "pending"


# Audit --------------------------------------------------------------------------------------------


def test_a_list_writes_one_audit_row_per_row_on_the_page(client_for, admissions, world, clinic):
    # when
    response = client_for(admissions).get(BASE, {"page_size": 4})

    # then
    page = results(response)
    assert len(page) == 4
    assert response.json()["next"] is not None
    events = AuditEvent.objects.filter(object_type="scheduling.reminder")
    assert events.count() == 4
    by_reminder = {Reminder.objects.get(pk=row["id"]): row for row in page}
    assert sorted(
        (event.object_id, event.patient_id, event.clinic_id, event.actor_id, event.action)
        for event in events
    ) == sorted(
        (str(reminder.pk), reminder.patient_id, clinic.pk, admissions.pk, "list")
        for reminder in by_reminder
    )


def test_a_filtered_out_list_writes_no_audit_row(client_for, admissions, world):
    assert ids(client_for(admissions).get(BASE, {"status": "sent"})) == []

    assert not AuditEvent.objects.filter(object_type="scheduling.reminder").exists()


@pytest.mark.parametrize("extra", [1, 5])
def test_list_query_count_does_not_grow_with_the_rows(
    client_for, clinic, admissions, clinician, django_assert_num_queries, extra
):
    # given: a session reminding `extra` patients once each (one offset, e-mail only)
    with time_machine.travel(PLANNED, tick=False):
        program = ProgramFactory(
            clinic=clinic,
            reminder_offsets_minutes=[120],
            level="iop",
            name="Evening IOP",
            track="evening",
            capacity=20,
        )
        SessionFactory(
            clinic=clinic, actor=clinician, program=program, title="Group", starts_at=SESSION_START
        )
        for _ in range(extra):
            enroll(
                admissions,
                PatientFactory(
                    clinic=clinic, actor=admissions, reachable=True, reminder_channels=["email"]
                ),
                program,
            )
    assert Reminder.objects.count() == extra
    client = client_for(admissions)
    client.get(BASE)  # the forced user object keeps its roles and clinics across requests

    # when / then: count, page (with the sessions), one audit INSERT for the page
    with django_assert_num_queries(3):
        response = client.get(BASE)
    assert len(results(response)) == extra
    assert AuditEvent.objects.filter(object_type="scheduling.reminder").count() == 2 * extra


# Retry --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admissions", "supervisor"])
def test_admissions_and_supervisors_put_a_failed_reminder_back_in_line(
    client_for, clinic, failed_sms, world, role, django_capture_on_commit_callbacks
):
    user = staff_user(role=role, clinics=[clinic])
    retried_at = at(12, 3, 19)

    # when
    with time_machine.travel(retried_at, tick=False):
        response = client_for(user).post(f"{BASE}{failed_sms.pk}/retry/")

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert (body["id"], body["status"], body["scheduled_for"]) == (
        failed_sms.pk,
        "pending",
        iso(retried_at),
    )
    assert "no-store" in response["Cache-Control"]
    failed_sms.refresh_from_db()
    assert (failed_sms.status, failed_sms.scheduled_for) == ("pending", retried_at)
    assert AuditEvent.objects.filter(
        actor=user,
        action=AuditAction.UPDATE,
        object_type="scheduling.reminder",
        object_id=str(failed_sms.pk),
        patient_id=world["rae"].pk,
        clinic=clinic,
    ).exists()
    # The next dispatch sends it.
    with time_machine.travel(retried_at + datetime.timedelta(minutes=1), tick=False):
        assert run_due(django_capture_on_commit_callbacks) == ["sent"]
    failed_sms.refresh_from_db()
    assert failed_sms.status == "sent"


def test_a_clinician_may_not_retry(client_for, clinician, failed_sms):
    with time_machine.travel(at(12, 3, 19), tick=False):
        response = client_for(clinician).post(f"{BASE}{failed_sms.pk}/retry/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    failed_sms.refresh_from_db()
    assert failed_sms.status == "failed"
    assert not AuditEvent.objects.filter(
        object_type="scheduling.reminder", action=AuditAction.UPDATE
    ).exists()


def test_a_reminder_that_did_not_fail_is_not_retryable(client_for, admissions, failed_sms, world):
    sent = Reminder.objects.get(patient=world["rae"], channel="email", offset_minutes=1440)
    pending = Reminder.objects.get(patient=world["rae"], channel="email", offset_minutes=120)
    assert (sent.status, pending.status) == ("sent", "pending")
    client = client_for(admissions)

    with time_machine.travel(at(12, 3, 19), tick=False):
        for reminder in (sent, pending):
            response = client.post(f"{BASE}{reminder.pk}/retry/")

            assert response.status_code == 409
            body = response.json()
            assert body["code"] == "not_retryable"
            assert body["detail"]

    assert Reminder.objects.get(pk=sent.pk).status == "sent"
    assert Reminder.objects.get(pk=pending.pk).scheduled_for == at(12, 4, 16)
    assert not AuditEvent.objects.filter(
        object_type="scheduling.reminder", action=AuditAction.UPDATE
    ).exists()


def test_a_failed_reminder_of_a_past_session_is_not_retryable(client_for, admissions, failed_sms):
    with time_machine.travel(SESSION_START + datetime.timedelta(minutes=1), tick=False):
        response = client_for(admissions).post(f"{BASE}{failed_sms.pk}/retry/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_retryable"
    failed_sms.refresh_from_db()
    assert failed_sms.status == "failed"


def test_a_retry_twice_is_a_409_the_second_time(client_for, supervisor, failed_sms):
    client = client_for(supervisor)
    with time_machine.travel(at(12, 3, 19), tick=False):
        first = client.post(f"{BASE}{failed_sms.pk}/retry/")
        second = client.post(f"{BASE}{failed_sms.pk}/retry/")

    assert (first.status_code, second.status_code) == (200, 409)
    assert (
        AuditEvent.objects.filter(
            object_type="scheduling.reminder", action=AuditAction.UPDATE
        ).count()
        == 1
    )


def test_another_clinics_reminder_cannot_be_retried(
    client_for, other_clinic, failed_sms, world, django_capture_on_commit_callbacks
):
    outsider = staff_user(role="supervisor", clinics=[other_clinic])

    with time_machine.travel(at(12, 3, 19), tick=False):
        response = client_for(outsider).post(f"{BASE}{failed_sms.pk}/retry/")

    assert response.status_code == 404
    failed_sms.refresh_from_db()
    assert failed_sms.status == "failed"


def test_a_retry_of_an_unknown_reminder_is_404(client_for, admissions, world):
    assert client_for(admissions).post(f"{BASE}999999/retry/").status_code == 404
