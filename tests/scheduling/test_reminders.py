"""The reminder outbox: planning, moving, cancelling, dispatching and sending (exactly once)."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic import notifications
from clinic.models import AuditAction, AuditEvent
from clinic.notifications import backends
from patients import services as patient_services
from programs.services import enrollments
from scheduling import reminders, services
from scheduling.models import Reminder, RosterEntry
from tests.factories import PatientFactory, ProgramFactory, SessionFactory

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC
# Words a reminder must never carry (DOMAIN.md "Privacy"), checked on every channel's text; the
# admissions desk's callback requests to callers are held to the same list
# (tests/programs/admissions/test_callbacks.py).
REVEALING = [
    "treatment",
    "recovery",
    "addiction",
    "substance",
    "rehab",
    "detox",
    "iop",
    "outpatient",
    "residential",
    "program",
    "therapy",
    "clinic group",
    "aa ",
    "na ",
    "counsel",
    "alcohol",
    "drug",
    "sober",
    "relapse",
    "admission",
    "admit",
    "inquiry",
    "intake",
    "screening",
    "benefit",
    "insurance",
    "level of care",
    "withdrawal",
    # Measurement-based care: a reminder never names an instrument or what it asks about.
    "measure",
    "mood",
    "depress",
    "anxi",
    "phq",
    "gad-7",
    "craving",
    "questionnaire",
]


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


@pytest.fixture(autouse=True)
def locmem_channels(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    settings.PUSH_BACKEND = "clinic.notifications.backends.LocmemPushBackend"
    backends.outbox.clear()


@pytest.fixture
def program(clinic):
    return ProgramFactory(
        clinic=clinic, name="Evening Recovery IOP", level="iop", track="evening", capacity=10
    )


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Rae",
        last_name="Lind",
        date_of_birth=datetime.date(1990, 2, 2),
        email="rae@example.org",
        phone="+12025550188",
        reminder_channels=["email", "sms"],
    )


def session_at(clinic, clinician, program, starts):
    return SessionFactory(
        clinic=clinic,
        actor=clinician,
        program=program,
        title="Relapse prevention group (IOP)",
        kind="group",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=3),
    )


def enroll(admissions, patient, program, day):
    return enrollments.enrollment_create(
        actor=admissions, patient=patient, program=program, start_date=day
    )


def rows(**filters):
    return sorted(
        Reminder.objects.filter(**filters).values_list("channel", "offset_minutes", "status")
    )


def test_a_roster_entry_gets_one_reminder_per_offset_and_channel(
    clinic, clinician, admissions, program, patient
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))

    assert rows(session=session) == [
        ("email", 120, "pending"),
        ("email", 1440, "pending"),
        ("sms", 120, "pending"),
        ("sms", 1440, "pending"),
    ]
    assert Reminder.objects.get(channel="email", offset_minutes=120).scheduled_for == at(12, 4, 16)
    # A second planning pass creates nothing; the database refuses a second row outright.
    assert reminders.plan_for_entries(RosterEntry.objects.values_list("id", flat=True)) == 0
    assert Reminder.objects.count() == 4
    reminder = Reminder.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            session=reminder.session,
            patient=reminder.patient,
            offset_minutes=reminder.offset_minutes,
            channel=reminder.channel,
            scheduled_for=reminder.scheduled_for,
        )


def test_past_offsets_send_only_the_nearest_at_once(
    clinic, clinician, admissions, program, patient
):
    # 90 minutes before the session both offsets (24 h and 2 h) are past.
    with time_machine.travel(at(12, 4, 16, 30), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 4))

    assert rows(session=session, channel="email") == [
        ("email", 120, "pending"),
        ("email", 1440, "skipped"),
    ]
    assert Reminder.objects.get(channel="email", offset_minutes=120).scheduled_for == at(
        12, 4, 16, 30
    )


def test_sms_in_quiet_hours_waits_until_they_end_or_is_skipped(
    clinic, clinician, admissions, program, patient
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        morning = session_at(clinic, clinician, program, at(12, 4, 9))  # 2 h before: 07:00
        early = session_at(clinic, clinician, program, at(12, 5, 7, 30))  # 2 h: 05:30
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))

    moved = Reminder.objects.get(session=morning, channel="sms", offset_minutes=120)
    assert moved.scheduled_for == at(12, 4, 8)  # the quiet hours end at 08:00, before 09:00
    skipped = Reminder.objects.get(session=early, channel="sms", offset_minutes=120)
    assert skipped.status == "skipped"  # 08:00 would be after the 07:30 start
    # E-mail ignores quiet hours.
    assert Reminder.objects.get(
        session=morning, channel="email", offset_minutes=120
    ).scheduled_for == at(12, 4, 7)


def test_a_moved_session_moves_its_pending_reminders(
    clinic, clinician, admissions, program, patient
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
        services.session_move(
            actor=clinician, session=session, starts_at=at(12, 5, 18), ends_at=at(12, 5, 21)
        )

    assert Reminder.objects.get(channel="email", offset_minutes=120).scheduled_for == at(12, 5, 16)


def test_a_declined_session_cancels_its_pending_reminders(
    clinic, clinician, admissions, program, patient, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
        services.session_respond(actor=None, session=session, patient=patient, response="confirmed")
        assert {s for *_, s in rows(session=session)} == {"pending"}

        services.session_respond(actor=None, session=session, patient=patient, response="declined")

    assert {s for *_, s in rows(session=session)} == {"cancelled"}


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """What beat and a worker do, in-process: dispatch wakes drains (a message each), each
    drain claims and sends due rows; returns every claimed row's outcome."""

    def dispatch_and_send(lose_messages=False):
        wakes = claim()
        if lose_messages:
            return []
        return [status for _ in range(wakes) for status in reminders.drain().values()]

    def claim():
        wakes = []
        with django_capture_on_commit_callbacks(execute=True):
            reminders.dispatch(lambda: wakes.append(1))
        return len(wakes)

    dispatch_and_send.claim = claim
    return dispatch_and_send


def test_due_reminders_are_sent_once_with_a_private_text(
    clinic, clinician, admissions, program, patient, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    mail.outbox.clear()

    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        first = run()
        again = run()

    assert sorted(first) == ["sent", "sent"]  # the 24-hour email and SMS
    assert again == []
    [email] = mail.outbox
    [sms] = backends.sms_outbox()
    texts = [email.subject, email.body, sms.text]
    for text in texts:
        assert clinic.public_name in text or text == email.subject
        lowered = text.lower()
        assert not [word for word in REVEALING if word in lowered], text
    assert "Friday, December 4 at 6:00 PM" in email.body
    assert Reminder.objects.filter(session=session, status="sent").count() == 2


def test_a_duplicated_wake_message_sends_once(clinic, clinician, admissions, program, patient, run):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    mail.outbox.clear()

    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        assert run.claim() == 1
        first, second = reminders.drain(), reminders.drain()

    assert sorted(first.values()) == ["sent", "sent"]
    assert second == {}
    assert len(mail.outbox) == 1


def test_a_send_cut_off_mid_call_becomes_unknown_and_is_not_resent(
    clinic, clinician, admissions, program, patient, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        # A drain claims a row for sending and dies before recording the outcome.
        cut_off = Reminder.objects.filter(status="pending", scheduled_for__lte=timezone.now())[0]
        Reminder.objects.filter(pk=cut_off.pk).update(status="sending", claimed_at=timezone.now())

    with time_machine.travel(at(12, 3, 18, 30), tick=False):
        run()

    assert Reminder.objects.get(pk=cut_off.pk).status == "unknown"


def test_a_lost_wake_message_loses_nothing(clinic, clinician, admissions, program, patient, run):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        run(lose_messages=True)  # the broker loses the messages
        assert Reminder.objects.filter(status="pending").count() == 4
    with time_machine.travel(at(12, 3, 18, 2), tick=False):
        outcomes = run()

    assert sorted(outcomes) == ["sent", "sent"]


def test_provider_errors_retry_with_backoff_then_fail(
    clinic, clinician, admissions, program, patient, monkeypatch, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))

    def broken(**kwargs):
        raise notifications.ChannelError("provider unavailable (503)", retryable=True)

    monkeypatch.setattr(notifications, "send_sms", broken)
    now = at(12, 3, 18, 1)
    for _attempt in range(reminders.MAX_ATTEMPTS):
        with time_machine.travel(now, tick=False):
            run()
        now += datetime.timedelta(minutes=31)

    sms = Reminder.objects.get(channel="sms", offset_minutes=1440)
    assert sms.status == "failed"
    assert sms.attempts == reminders.MAX_ATTEMPTS
    assert "503" in sms.last_error
    assert not re.search(r"\+1202", sms.last_error)
    assert Reminder.objects.get(channel="email", offset_minutes=1440).status == "sent"


def test_an_opt_out_applies_to_pending_reminders_at_once(
    clinic, clinician, admissions, program, patient, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
        patient_services.patient_update(
            actor=admissions, patient=patient, reminder_channels=["email"]
        )

    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        run()

    assert Reminder.objects.get(channel="sms", offset_minutes=1440).status == "cancelled"
    assert Reminder.objects.get(channel="email", offset_minutes=1440).status == "sent"


def test_a_cancelled_session_sends_one_notice_where_a_reminder_went_out(
    clinic, clinician, admissions, program, patient, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        run()
        services.session_cancel(actor=clinician, session=session)
        run()

    notices = Reminder.objects.filter(kind="cancellation")
    assert sorted(notices.values_list("channel", "status")) == [("email", "sent"), ("sms", "sent")]
    assert rows(session=session, kind="reminder", offset_minutes=120) == [
        ("email", 120, "cancelled"),
        ("sms", 120, "cancelled"),
    ]
    assert "cancelled" in mail.outbox[-1].body


def test_leaving_the_program_cancels_future_reminders_with_a_notice(
    clinic, clinician, admissions, program, patient, run
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        stay = enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        run()
        enrollments.enrollment_discharge(
            actor=clinician, enrollment=stay, date=datetime.date(2026, 12, 3), reason="completed"
        )

    assert not RosterEntry.objects.filter(session=session).exists()
    assert rows(session=session, kind="reminder", offset_minutes=120) == [
        ("email", 120, "cancelled"),
        ("sms", 120, "cancelled"),
    ]
    assert Reminder.objects.filter(kind="cancellation", status="pending").count() == 2


def test_staff_retry_puts_a_failed_reminder_back_in_line(
    clinic, clinician, admissions, program, patient, run, monkeypatch
):
    with time_machine.travel(at(12, 1, 10), tick=False):
        session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))

    def refused(**kwargs):
        raise notifications.ChannelError("invalid number (400)", retryable=False)

    monkeypatch.setattr(notifications, "send_sms", refused)
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        run()
    failed = Reminder.objects.get(channel="sms", offset_minutes=1440)
    assert failed.status == "failed"
    monkeypatch.undo()

    with time_machine.travel(at(12, 3, 19), tick=False):
        assert reminders.retry_failed(actor=admissions, reminder=failed) is True
        assert reminders.retry_failed(actor=admissions, reminder=failed) is False  # only failed
        run()
    with time_machine.travel(at(12, 4, 19), tick=False):
        assert reminders.retry_failed(actor=admissions, reminder=failed) is False  # session over
    # The service audits its retry (one row: the refused ones change nothing).
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.UPDATE, object_id=str(failed.pk), actor=admissions
        ).count()
        == 1
    )

    failed.refresh_from_db()
    assert failed.status == "sent"


def test_every_channel_and_kind_carries_only_the_public_name_date_and_time(
    clinic, clinician, admissions, program, patient, run
):
    """The word list on the rendered text of e-mail (subject and body), SMS and push (title and
    body), for reminders and cancellation notices; nor the program, session title or the
    clinic's internal name."""
    from scheduling.models import Device

    patient.reminder_channels = ["email", "sms", "push"]
    patient.save(update_fields=["reminder_channels"])
    Device.objects.create(patient=patient, platform="ios", token="device-token-1")
    with time_machine.travel(at(12, 1, 10), tick=False):
        session = session_at(clinic, clinician, program, at(12, 4, 18))
        enroll(admissions, patient, program, datetime.date(2026, 12, 1))
    mail.outbox.clear()
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        run()
        services.session_cancel(actor=clinician, session=session)
        run()

    texts = [text for message in mail.outbox for text in (message.subject, message.body)]
    texts += [message.text for message in backends.sms_outbox()]
    texts += [text for push in backends.push_outbox() for text in (push.title, push.body)]
    assert len(mail.outbox) == 2  # the reminder and the cancellation notice
    assert len(backends.sms_outbox()) == 2
    assert len(backends.push_outbox()) == 2
    forbidden = [*REVEALING, program.name.lower(), session.title.lower(), clinic.name.lower()]
    for text in texts:
        lowered = text.lower()
        assert not [word for word in forbidden if word in lowered], text
        assert clinic.public_name in text
        assert re.search(r"December 4 at 6:00 PM|Appointment (reminder|cancelled)", text), text


def test_a_measure_reminder_says_only_the_public_name_and_a_check_in_waiting(clinic):
    from programs.services.measures import reminder_text

    subject, text = reminder_text(clinic.public_name)

    assert (subject, text) == (
        f"Message from {clinic.public_name}",
        "You have a check-in waiting in the app.",
    )
    for said in (subject, text):
        assert not [word for word in REVEALING if word in said.lower()], said
