"""E-mail to staff about their alerts (clinic.services.alert_delivery, clinic.tasks) and the staff
alert admin (clinic.admin.StaffAlertAdmin).

Alerts are raised through their real paths: a waitlist offer (to admissions, by role) and a
risky check-in (to the primary clinician by name, or the clinicians by role).
"""

import datetime
import itertools

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.utils import timezone

from clinic import notifications
from clinic.models import AlertDelivery, AlertKind, AuditAction, AuditEvent, StaffAlert
from clinic.services import alert_delivery
from clinic.tasks import alert_deliveries_send_task
from programs.models import Level
from programs.services import aftercare
from programs.services import enrollments as enrollment_services
from tests.factories import PatientFactory, ProgramFactory, admin_login, staff_user

pytestmark = pytest.mark.django_db

ALERTS = "/admin/clinic/staffalert/"
NOTE = "Used again with Marco behind the Riverside pharmacy"

_names = itertools.count(1)


# Raising alerts the real way ----------------------------------------------------------------------


def waitlist_offer(clinic, admissions, *, name="Riverside Residential", patient_names=None):
    """A full one-bed program, a waitlisted patient, a discharge: the place is offered and
    admissions are alerted. Returns the alert."""
    program = ProgramFactory(clinic=clinic, name=name, capacity=1, level=Level.RESIDENTIAL)
    today = program.clinic.today()
    present = enrollment_services.enrollment_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions),
        program=program,
        start_date=today,
    )
    waiting = enrollment_services.enrollment_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions, **patient_names or {}),
        program=program,
        start_date=today,
        waitlist=True,
    )
    enrollment_services.enrollment_discharge(
        actor=admissions, enrollment=present, date=today, reason="completed"
    )
    # The alert's subject is the offer (each offer alerts anew).
    return StaffAlert.objects.get(
        kind=AlertKind.WAITLIST_OFFER,
        object_type="programs.waitlistoffer",
        object_id=str(waiting.offers.get().pk),
        clinic=clinic,
    )


def risky_check_in(clinic, admissions, clinician, *, primary=True, note=NOTE):
    """A check-in reporting use, by Ana Diaz, with a note. Returns the check-in."""
    program = ProgramFactory(
        clinic=clinic, name=f"Day IOP {next(_names)}", level=Level.IOP, track="day", capacity=10
    )
    enrollment = enrollment_services.enrollment_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions, first_name="Ana", last_name="Diaz"),
        program=program,
        start_date=program.clinic.today(),
        primary_clinician=clinician if primary else None,
    )
    plan = aftercare.aftercare_plan_create(actor=clinician, enrollment=enrollment)
    return aftercare.checkin_record(
        actor=clinician, plan=plan, craving=9, mood=2, used_substance=True, note=note
    )


def recipients(alert) -> list[str]:
    return sorted(alert.deliveries.values_list("recipient__username", flat=True))


def statuses(alert) -> list[str]:
    return sorted(alert.deliveries.values_list("status", flat=True))


@pytest.fixture
def admissions_team(clinic, other_clinic, admissions):
    """Who is who around the clinic's admissions role."""
    return {
        "admissions": admissions,
        "colleague": staff_user(role="admissions", clinics=[clinic]),
        "no_email": staff_user(role="admissions", clinics=[clinic], email=""),
        "inactive": staff_user(role="admissions", clinics=[clinic], is_active=False),
        "elsewhere": staff_user(role="admissions", clinics=[other_clinic]),
        "clinician": staff_user(role="clinician", clinics=[clinic]),
        "supervisor": staff_user(role="supervisor", clinics=[clinic]),
        "both_clinics": staff_user(role="admissions", clinics=[clinic, other_clinic]),
    }


# Planning -----------------------------------------------------------------------------------------


def test_an_alert_to_a_role_gets_one_delivery_per_active_member_with_an_email(
    clinic, admissions, admissions_team
):
    team = admissions_team

    alert = waitlist_offer(clinic, admissions)

    assert (alert.recipient_role, alert.recipient_id) == ("admissions", None)
    assert recipients(alert) == sorted(
        team[name].username for name in ("admissions", "colleague", "both_clinics")
    )
    assert statuses(alert) == ["pending"] * 3
    assert set(alert.deliveries.values_list("attempts", flat=True)) == {0}
    # Planning again adds nothing (one row per alert and person).
    assert AlertDelivery.objects.count() == 3
    alert_delivery.plan(alert)
    assert AlertDelivery.objects.count() == 3


def test_an_alert_to_a_named_clinician_goes_to_them_only(clinic, admissions, clinician):
    colleague = staff_user(role="clinician", clinics=[clinic])

    checkin = risky_check_in(clinic, admissions, clinician)

    alert = StaffAlert.objects.get(kind=AlertKind.RISKY_CHECK_IN, object_id=str(checkin.pk))
    assert alert.recipient == clinician
    assert recipients(alert) == [clinician.username]
    assert colleague.username not in recipients(alert)


def test_without_a_primary_clinician_every_clinician_of_the_clinic_gets_one(
    clinic, other_clinic, admissions, clinician
):
    colleague = staff_user(role="clinician", clinics=[clinic])
    staff_user(role="clinician", clinics=[other_clinic])
    staff_user(role="clinician", clinics=[clinic], email="")

    checkin = risky_check_in(clinic, admissions, clinician, primary=False)

    alert = StaffAlert.objects.get(object_type="programs.checkin", object_id=str(checkin.pk))
    assert alert.recipient_role == "clinician"
    assert recipients(alert) == sorted([clinician.username, colleague.username])


def test_an_alert_raised_again_plans_no_more_deliveries(clinic, admissions, clinician):
    checkin = risky_check_in(clinic, admissions, clinician, primary=False)
    assert alert_delivery.deliver_due() == {"sent": 1}
    # A clinician who joins afterwards is not e-mailed about the old alert by a second raise.
    newcomer = staff_user(role="clinician", clinics=[clinic])

    again = aftercare.checkin_alert_raise(checkin=checkin)

    assert StaffAlert.objects.count() == 1
    assert recipients(again) == [clinician.username]
    assert newcomer.username not in recipients(again)
    assert alert_delivery.deliver_due() == {}
    assert len(mail.outbox) == 1


# Sending ------------------------------------------------------------------------------------------


def test_deliver_due_sends_one_email_per_delivery_once(clinic, admissions, admissions_team):
    team = admissions_team
    alert = waitlist_offer(clinic, admissions)
    mail.outbox.clear()

    # when
    first = alert_delivery.deliver_due()
    second = alert_delivery.deliver_due()

    # then
    assert first == {"sent": 3}
    assert second == {}
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        team[name].email for name in ("admissions", "colleague", "both_clinics")
    )
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert statuses(alert) == ["sent"] * 3
    for delivery in alert.deliveries.select_related("recipient"):
        assert delivery.attempts == 1
        assert delivery.sent_at is not None
        assert delivery.last_error == ""
        [message] = [m for m in mail.outbox if m.to == [delivery.recipient.email]]
        assert delivery.provider_message_id == message.extra_headers["Message-ID"]


def test_a_tick_sends_at_most_its_limit(clinic, admissions, admissions_team):
    alert = waitlist_offer(clinic, admissions)

    assert alert_delivery.deliver_due(limit=2) == {"sent": 2}
    assert statuses(alert) == ["pending", "sent", "sent"]
    assert alert_delivery.deliver_due(limit=2) == {"sent": 1}
    assert len(mail.outbox) == 3


def test_the_beat_task_delivers(clinic, admissions, clinician):
    risky_check_in(clinic, admissions, clinician)

    assert alert_deliveries_send_task.name == "clinic.tasks.alert_deliveries_send_task"
    assert alert_deliveries_send_task() == {"sent": 1}
    assert alert_deliveries_send_task() == {}
    assert [message.to for message in mail.outbox] == [[clinician.email]]


def test_the_email_names_neither_the_patient_nor_the_note(clinic, admissions, clinician, settings):
    settings.PUBLIC_BASE_URL = "https://continuum.example.org/"
    checkin = risky_check_in(clinic, admissions, clinician)
    alert = StaffAlert.objects.get(object_type="programs.checkin", object_id=str(checkin.pk))
    patient = checkin.plan.enrollment.patient

    alert_delivery.deliver_due()

    [message] = mail.outbox
    text = f"{message.subject}\n{message.body}"
    # Nor what the check-in said (the alert's message: "craving 9 of 10").
    secrets = ("Ana", "Diaz", patient.mrn, NOTE, "Marco", "pharmacy", "9 of 10", "use reported")
    for secret in secrets:
        assert secret not in text, secret
    assert clinic.name in message.subject
    assert AlertKind.RISKY_CHECK_IN.label in message.body
    assert f"https://continuum.example.org/admin/clinic/staffalert/{alert.pk}/change/" in (
        message.body
    )


def test_the_waitlist_email_names_neither_the_patient_nor_the_program(
    clinic, admissions, admissions_team
):
    waitlist_offer(
        clinic,
        admissions,
        name="Opioid Detox Unit",
        patient_names={"first_name": "Quentin", "last_name": "Zabriskie"},
    )

    alert_delivery.deliver_due()

    assert len(mail.outbox) == 3
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        for secret in ("Quentin", "Zabriskie", "Opioid Detox Unit"):
            assert secret not in text, secret


def test_an_alert_acknowledged_before_sending_is_cancelled(client_for, clinic, admissions):
    from clinic.services import alert_acknowledge

    alert = waitlist_offer(clinic, admissions)
    alert_acknowledge(actor=admissions, alert=alert)
    mail.outbox.clear()

    assert alert_delivery.deliver_due() == {"cancelled": 1}

    assert mail.outbox == []
    delivery = alert.deliveries.get()
    assert delivery.status == "cancelled"
    assert delivery.sent_at is None
    assert alert_delivery.deliver_due() == {}


def test_a_retryable_error_puts_the_delivery_back_with_a_backoff(
    clinic, admissions, clinician, monkeypatch
):
    risky_check_in(clinic, admissions, clinician)
    delivery = AlertDelivery.objects.get()

    def unreachable(**kwargs):
        raise notifications.ChannelError(
            "The mail server could not be reached (ConnectionRefusedError).", retryable=True
        )

    monkeypatch.setattr(notifications, "send_email", unreachable)
    now = timezone.now()

    # when
    with time_machine.travel(now, tick=False):
        assert alert_delivery.deliver_due() == {"pending": 1}
        assert alert_delivery.deliver_due() == {}  # not due again yet

    # then
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.scheduled_for == now + datetime.timedelta(minutes=1)
    assert "could not be reached" in delivery.last_error
    assert mail.outbox == []

    # when: the mail server is back, after the backoff
    monkeypatch.undo()
    with time_machine.travel(now + datetime.timedelta(minutes=2), tick=False):
        assert alert_delivery.deliver_due() == {"sent": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")
    assert [message.to for message in mail.outbox] == [[clinician.email]]


def test_retryable_errors_give_up_after_the_last_attempt(
    clinic, admissions, clinician, monkeypatch
):
    risky_check_in(clinic, admissions, clinician)

    def unreachable(**kwargs):
        raise notifications.ChannelError("The mail server answered 451.", retryable=True)

    monkeypatch.setattr(notifications, "send_email", unreachable)
    now = timezone.now()
    outcomes = []
    for _attempt in range(alert_delivery.MAX_ATTEMPTS + 1):
        with time_machine.travel(now, tick=False):
            outcomes.append(alert_delivery.deliver_due())
        now += datetime.timedelta(minutes=31)

    assert outcomes == [{"pending": 1}] * (alert_delivery.MAX_ATTEMPTS - 1) + [{"failed": 1}, {}]
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", alert_delivery.MAX_ATTEMPTS)


def test_a_refused_message_fails_at_once(clinic, admissions, clinician, monkeypatch):
    risky_check_in(clinic, admissions, clinician)

    def refused(**kwargs):
        raise notifications.ChannelError(
            "The mail server refused the recipient (SMTP 550).", retryable=False, code="550"
        )

    monkeypatch.setattr(notifications, "send_email", refused)

    assert alert_delivery.deliver_due() == {"failed": 1}

    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "SMTP 550" in delivery.last_error
    assert delivery.sent_at is None
    monkeypatch.undo()
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1), tick=False):
        assert alert_delivery.deliver_due() == {}
    assert mail.outbox == []


class WorkerKilled(BaseException):
    """The worker process dies in the middle of the mail server call."""


def test_a_send_cut_off_mid_call_becomes_unknown_and_is_not_resent(
    clinic, admissions, clinician, monkeypatch, settings
):
    settings.REMINDER_SEND_TIMEOUT_SECONDS = 120
    risky_check_in(clinic, admissions, clinician)

    def killed(**kwargs):
        raise WorkerKilled

    monkeypatch.setattr(notifications, "send_email", killed)
    claimed_at = timezone.now()
    with time_machine.travel(claimed_at, tick=False), pytest.raises(WorkerKilled):
        alert_delivery.deliver_due()
    monkeypatch.undo()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.claimed_at) == ("sending", claimed_at)

    # Within the timeout the row is left alone (the call may still be running)...
    with time_machine.travel(claimed_at + datetime.timedelta(seconds=119), tick=False):
        assert alert_delivery.deliver_due() == {}
    delivery.refresh_from_db()
    assert delivery.status == "sending"

    # ...past it, it is marked unknown and never sent again.
    with time_machine.travel(claimed_at + datetime.timedelta(seconds=121), tick=False):
        assert alert_delivery.deliver_due() == {}
    with time_machine.travel(claimed_at + datetime.timedelta(hours=2), tick=False):
        assert alert_delivery.deliver_due() == {}
    delivery.refresh_from_db()
    assert delivery.status == "unknown"
    assert delivery.attempts == 1
    assert delivery.last_error
    assert mail.outbox == []


def test_a_worker_dying_mid_batch_loses_only_the_email_it_was_sending(
    clinic, admissions, admissions_team, monkeypatch, settings
):
    """Only the row whose mail server call was cut off is in doubt: the rows of the same tick
    that were never tried are still sent by the next one."""
    alert = waitlist_offer(clinic, admissions)
    assert alert.deliveries.count() == 3
    real_send = notifications.send_email
    calls = []

    def dies_on_the_first_call(**kwargs):
        calls.append(kwargs["to"])
        raise WorkerKilled

    monkeypatch.setattr(notifications, "send_email", dies_on_the_first_call)
    start = timezone.now()
    with time_machine.travel(start, tick=False), pytest.raises(WorkerKilled):
        alert_delivery.deliver_due()
    monkeypatch.setattr(notifications, "send_email", real_send)

    # when: the next ticks, past the send timeout
    later = start + datetime.timedelta(seconds=settings.REMINDER_SEND_TIMEOUT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        outcomes = alert_delivery.deliver_due()
        assert alert_delivery.deliver_due() == {}

    # then
    assert outcomes == {"sent": 2}
    assert statuses(alert) == ["sent", "sent", "unknown"]
    cut_off = alert.deliveries.get(status="unknown")
    assert cut_off.recipient.email == calls[0]
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        d.recipient.email for d in alert.deliveries.filter(status="sent")
    )


def test_a_late_outcome_does_not_overwrite_unknown(clinic, admissions, clinician, monkeypatch):
    """A send that outlives the timeout: the row was marked unknown meanwhile and stays so."""
    risky_check_in(clinic, admissions, clinician)
    delivery = AlertDelivery.objects.get()
    real_send = notifications.send_email

    def slow(**kwargs):
        # While the mail server call hangs, the next tick marks the row as cut off.
        AlertDelivery.objects.filter(pk=delivery.pk).update(status="unknown")
        return real_send(**kwargs)

    monkeypatch.setattr(notifications, "send_email", slow)

    alert_delivery.deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == "unknown"


# The admin ----------------------------------------------------------------------------------------


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


@pytest.fixture
def two_clinics_alerts(clinic, other_clinic, admissions, clinician):
    """An admissions alert here, one at the other clinic, and a clinician's alert here."""
    ours = waitlist_offer(clinic, admissions, name="Riverside Residential")
    other_admissions = staff_user(role="admissions", clinics=[other_clinic])
    theirs = waitlist_offer(other_clinic, other_admissions, name="Hilltop Residential")
    checkin = risky_check_in(clinic, admissions, clinician)
    clinicians = StaffAlert.objects.get(object_type="programs.checkin", object_id=str(checkin.pk))
    return {"ours": ours, "theirs": theirs, "clinicians": clinicians}


def test_admissions_see_their_clinics_admissions_alerts_only(
    client, admissions, two_clinics_alerts
):
    response = log_in(client, admissions).get(ALERTS)

    assert response.status_code == 200
    assert [alert.pk for alert in response.context["cl"].result_list] == [
        two_clinics_alerts["ours"].pk
    ]
    page = response.content.decode()
    assert "Riverside Residential" in page
    assert "Hilltop Residential" not in page
    # Another clinic's alert page is not shown either.
    theirs = client.get(f"{ALERTS}{two_clinics_alerts['theirs'].pk}/change/")
    assert theirs.status_code in (302, 404)
    if theirs.status_code == 302:
        assert f"{two_clinics_alerts['theirs'].pk}/change/" not in theirs["Location"]


def test_admin_reads_of_alerts_are_audited_as_in_the_api(
    client, admissions, clinic, two_clinics_alerts
):
    ours = two_clinics_alerts["ours"]
    log_in(client, admissions)

    client.get(ALERTS)
    client.get(f"{ALERTS}{ours.pk}/change/")

    rows = AuditEvent.objects.filter(actor=admissions, object_type="clinic.staffalert")
    assert sorted(rows.values_list("action", "object_id", "patient_id", "clinic_id")) == [
        ("list", str(ours.pk), ours.patient_id, clinic.pk),
        ("read", str(ours.pk), ours.patient_id, clinic.pk),
    ]


def test_the_alert_page_lists_its_emails(client, admissions, two_clinics_alerts):
    ours = two_clinics_alerts["ours"]
    alert_delivery.deliver_due()

    response = log_in(client, admissions).get(f"{ALERTS}{ours.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert admissions.username in page
    assert "Sent" in page


def test_the_acknowledge_action_acknowledges(client, admissions, two_clinics_alerts):
    ours, theirs = two_clinics_alerts["ours"], two_clinics_alerts["theirs"]
    log_in(client, admissions)

    response = client.post(
        ALERTS,
        {"action": "acknowledge_alerts", "_selected_action": [str(ours.pk), str(theirs.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 alert(s) acknowledged."]
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.acknowledged_by == admissions
    assert ours.acknowledged_at is not None
    assert theirs.acknowledged_at is None  # not the caller's: out of the action's reach
    assert AuditEvent.objects.filter(
        actor=admissions,
        action=AuditAction.UPDATE,
        object_type="clinic.staffalert",
        object_id=str(ours.pk),
    ).exists()
    # Its e-mails are no longer sent.
    assert alert_delivery.deliver_due().get("cancelled") == ours.deliveries.count()


def test_acknowledging_an_acknowledged_alert_changes_nothing(
    client, admissions, two_clinics_alerts
):
    ours = two_clinics_alerts["ours"]
    log_in(client, admissions)
    payload = {"action": "acknowledge_alerts", "_selected_action": [str(ours.pk)]}
    client.post(ALERTS, payload, follow=True)  # (reads its message)
    ours.refresh_from_db()
    first = ours.acknowledged_at

    response = client.post(ALERTS, payload, follow=True)

    assert [str(m) for m in get_messages(response.wsgi_request)] == ["0 alert(s) acknowledged."]
    ours.refresh_from_db()
    assert ours.acknowledged_at == first


def test_only_acknowledging_is_offered_never_delete(client, admissions, two_clinics_alerts):
    ours = two_clinics_alerts["ours"]
    log_in(client, admissions)

    form = client.get(ALERTS).context["action_form"]

    assert {name for name, _label in form.fields["action"].choices if name} == {
        "acknowledge_alerts"
    }
    assert client.get(f"{ALERTS}{ours.pk}/delete/").status_code == 403
    assert client.post(f"{ALERTS}{ours.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{ALERTS}add/").status_code == 403
    response = client.post(
        ALERTS, {"action": "delete_selected", "_selected_action": [str(ours.pk)], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert StaffAlert.objects.filter(pk=ours.pk).exists()


def test_clinicians_see_their_alerts_and_not_admissions(client, clinician, two_clinics_alerts):
    response = log_in(client, clinician).get(ALERTS)

    assert [alert.pk for alert in response.context["cl"].result_list] == [
        two_clinics_alerts["clinicians"].pk
    ]


def test_a_user_without_a_role_gets_no_alert_admin(client, user_without_role, two_clinics_alerts):
    response = log_in(client, user_without_role).get(ALERTS)

    assert response.status_code == 403
