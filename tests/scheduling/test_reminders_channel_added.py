"""A reminder channel added later plans its reminders for the sessions already on the patient's
schedule (patients.hooks.ReminderPlanner → scheduling.reminders.plan_for_channels), by the rules
of planning, through the staff API, the admin's service and the app's preferences alike."""

import datetime
import zoneinfo

import pytest
import time_machine

from clinic.notifications import backends
from patients import services as patient_services
from programs.services import enrollments
from scheduling import reminders, services
from scheduling.models import Reminder
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, app_account, client_of
from tests.patients.admin.helpers import log_in, management_forms

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
PHONE = "+12025550188"


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


# Rae joins the program a week before she adds SMS, with e-mail reminders only.
JOINED = at(11, 25, 10)
NOW = at(12, 1, 10)


@pytest.fixture(autouse=True)
def locmem_sms(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"


@pytest.fixture
def program(clinic):
    return ProgramFactory(
        clinic=clinic,
        name="Evening IOP",
        level="iop",
        track="evening",
        capacity=10,
        reminder_offsets_minutes=[1440, 120],
    )


@pytest.fixture
def rae(clinic, admissions):
    with time_machine.travel(JOINED, tick=False):
        return PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name="Rae",
            email="rae@example.org",
            phone=PHONE,
            reminder_channels=["email"],
        )


@pytest.fixture
def schedule(clinic, clinician, admissions, program, rae):
    """``schedule(*starts)``: program sessions at ``starts``, Rae on their rosters (enrolled at
    JOINED); the sessions, in order."""

    def make(*starts):
        with time_machine.travel(JOINED, tick=False):
            sessions = [
                SessionFactory(
                    clinic=clinic,
                    actor=clinician,
                    program=program,
                    title="Group",
                    kind="group",
                    starts_at=starts_at,
                    ends_at=starts_at + datetime.timedelta(hours=2),
                )
                for starts_at in starts
            ]
            enrollments.enrollment_create(
                actor=admissions, patient=rae, program=program, start_date=JOINED.date()
            )
        return sessions

    return make


def sms_rows(**filters):
    return sorted(
        Reminder.objects.filter(channel="sms", **filters).values_list(
            "session_id", "offset_minutes", "scheduled_for", "status"
        )
    )


def add_sms(admissions, rae):
    return patient_services.patient_update(
        actor=admissions, patient=rae, reminder_channels=["email", "sms"]
    )


@pytest.mark.parametrize("by", ["staff", "patient"])
def test_adding_sms_plans_it_for_future_sessions_only(
    by, schedule, rae, admissions, client_for, clinician
):
    # given: a session already past, two ahead, one cancelled, one Rae declined and one she is
    # excused from
    _past, first, second, cancelled, declined, excused = schedule(
        at(11, 28, 18), at(12, 4, 18), at(12, 5, 18), at(12, 6, 18), at(12, 7, 18), at(12, 8, 18)
    )
    with time_machine.travel(JOINED, tick=False):
        services.session_cancel(actor=clinician, session=cancelled)
        services.session_respond(actor=None, session=declined, patient=rae, response="declined")
        services.attendance_record(actor=clinician, session=excused, patient=rae, status="excused")
    emails = sorted(Reminder.objects.values_list("id", "status"))

    # when
    with time_machine.travel(NOW, tick=False):
        if by == "staff":
            client, path = client_for(admissions), f"/api/v1/patients/{rae.pk}/"
        else:
            client, path = client_of(app_account(rae)), "/api/v1/me/preferences/"
        response = client.patch(path, {"reminder_channels": ["email", "sms"]}, format="json")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["reminder_channels"] == ["email", "sms"]
    assert sms_rows() == [
        (first.pk, 120, at(12, 4, 16), "pending"),
        (first.pk, 1440, at(12, 3, 18), "pending"),
        (second.pk, 120, at(12, 5, 16), "pending"),
        (second.pk, 1440, at(12, 4, 18), "pending"),
    ]
    assert all(r.roster_entry.patient_id == rae.pk for r in Reminder.objects.filter(channel="sms"))
    # The e-mail reminders are as they were.
    assert sorted(Reminder.objects.exclude(channel="sms").values_list("id", "status")) == emails


def test_adding_sms_in_the_admin_plans_it_too(schedule, rae, admissions, client):
    [session] = schedule(at(12, 4, 18))
    url = f"/admin/patients/patient/{rae.pk}/change/"

    with time_machine.travel(NOW, tick=False):
        log_in(client, admissions)
        response = client.post(
            url,
            {
                **management_forms(client, url),
                "first_name": rae.first_name,
                "last_name": rae.last_name,
                "date_of_birth": rae.date_of_birth.isoformat(),
                "email": rae.email,
                "phone": PHONE,
                "reminder_channels": ["email", "sms"],
                "_save": "Save",
            },
        )

    assert response.status_code == 302
    assert sms_rows() == [
        (session.pk, 120, at(12, 4, 16), "pending"),
        (session.pk, 1440, at(12, 3, 18), "pending"),
    ]


def test_offsets_already_past_send_only_the_nearest_at_once(schedule, rae, admissions):
    # 90 minutes before the session both offsets (24 h and 2 h) are past.
    [soon] = schedule(at(12, 1, 11, 30))

    with time_machine.travel(NOW, tick=False):
        add_sms(admissions, rae)

    assert sms_rows() == [
        (soon.pk, 120, NOW, "pending"),
        (soon.pk, 1440, NOW, "skipped"),
    ]


def test_sms_added_keeps_the_quiet_hours(schedule, rae, admissions):
    # given: 2 h before 09:00 is 07:00 (quiet until 08:00); 2 h before 07:30 is 05:30 and the
    # quiet hours end after the start; 24 h before 09:00 tomorrow is already past
    morning, early = schedule(at(12, 2, 9), at(12, 3, 7, 30))

    with time_machine.travel(NOW, tick=False):
        add_sms(admissions, rae)

    assert sms_rows() == [
        (morning.pk, 120, at(12, 2, 8), "pending"),  # held until the quiet hours end
        (morning.pk, 1440, NOW, "pending"),  # the nearest past offset, at once
        (early.pk, 120, at(12, 3, 8), "skipped"),  # 08:00 is after the 07:30 start
        (early.pk, 1440, at(12, 2, 8), "pending"),  # 07:30 the day before, held to 08:00
    ]


def test_the_planned_sms_go_out_once_through_the_dispatch(
    schedule, rae, admissions, send_due_reminders
):
    [session] = schedule(at(12, 4, 18))
    with time_machine.travel(NOW, tick=False):
        add_sms(admissions, rae)

    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        first = send_due_reminders()
        again = send_due_reminders()
    with time_machine.travel(at(12, 4, 16, 1), tick=False):
        second = send_due_reminders()

    assert first == ["sent", "sent"]  # the 24-hour e-mail and SMS
    assert again == []
    assert second == ["sent", "sent"]
    assert [message.to for message in backends.sms_outbox()] == [PHONE, PHONE]
    assert {status for *_, status in sms_rows(session=session)} == {"sent"}


def test_adding_a_channel_twice_plans_nothing_the_second_time(schedule, rae, admissions):
    schedule(at(12, 4, 18))
    with time_machine.travel(NOW, tick=False):
        add_sms(admissions, rae)
        planned = sms_rows()
        assert len(planned) == 2

        add_sms(admissions, rae)  # the same list again: no change
        again = reminders.plan_for_channels(patient_ids=[rae.pk], channels=["sms"], now=NOW)

    assert again == 0
    assert sms_rows() == planned


def test_a_channel_removed_and_added_again_plans_nothing_new(
    schedule, rae, admissions, send_due_reminders
):
    """The rows of a channel removed stay: pending ones are simply sent once it is back; one
    refused at send time while it was off stays cancelled (one row per reminder, ever)."""
    [session] = schedule(at(12, 4, 18))
    with time_machine.travel(NOW, tick=False):
        add_sms(admissions, rae)
    planned = sms_rows()

    # when: SMS is off while the 24-hour reminder falls due, and back before the 2-hour one
    with time_machine.travel(at(12, 2, 10), tick=False):
        patient_services.patient_update(actor=admissions, patient=rae, reminder_channels=["email"])
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        assert send_due_reminders() == ["cancelled", "sent"]
    with time_machine.travel(at(12, 4, 9), tick=False):
        add_sms(admissions, rae)
        assert sms_rows() == [
            (session.pk, 120, at(12, 4, 16), "pending"),
            (session.pk, 1440, at(12, 3, 18), "cancelled"),
        ]
    with time_machine.travel(at(12, 4, 16, 1), tick=False):
        sent = send_due_reminders()

    # then
    assert sent == ["sent", "sent"]
    assert [(s, o) for s, o, *_ in sms_rows()] == [(s, o) for s, o, *_ in planned]
    assert [status for *_, status in sms_rows()] == ["sent", "cancelled"]
    assert len(backends.sms_outbox()) == 1


@pytest.mark.parametrize("sessions", [1, 12])
def test_planning_an_added_channel_costs_the_same_for_any_number_of_sessions(
    sessions, schedule, rae, admissions, django_assert_max_num_queries
):
    schedule(*(at(12, 2, 18) + datetime.timedelta(days=n) for n in range(sessions)))

    # 8: the patient's update reads back the version its trigger wrote (clinic.versions).
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(8):
        add_sms(admissions, rae)

    assert Reminder.objects.filter(channel="sms", status="pending").count() == 2 * sessions


def test_scheduling_registers_the_planner_that_patients_calls():
    """patients.hooks: scheduling's planner, registered when its app is ready (DESIGN.md)."""
    from patients import hooks

    assert isinstance(hooks.reminder_planner(), reminders.ChannelPlanner)
