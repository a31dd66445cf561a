"""Push reminders go to every device of the patient; dead tokens are forgotten, passing failures
retried."""

import datetime

import pytest

from clinic.models import AuditAction
from clinic.notifications import ChannelError
from scheduling import reminders
from scheduling.models import Device
from tests.scheduling.devices.helpers import (
    DUE,
    add_device,
    device_audits,
    frozen,
    invalid_token,
    register,
    unavailable,
    unregistered,
)

pytestmark = pytest.mark.django_db


def test_a_push_reminder_goes_to_every_device_of_the_patient(ana, ben, reminded, run, fake_push):
    add_device(ana, "ana-android", "android")
    add_device(ana, "ana-iphone", "ios")
    add_device(ben, "ben-phone")  # Ben is not on the session
    reminder = reminded(ana)

    assert run() == ["sent"]

    assert sorted((push["token"], push["platform"]) for push in fake_push.sent) == [
        ("ana-android", "android"),
        ("ana-iphone", "ios"),
    ]
    for push in fake_push.sent:
        assert push["title"].startswith("Appointment reminder")
        assert "December 4 at 6:00 PM" in push["body"]
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == ("sent", 1, "")
    assert len(reminder.provider_message_id.split(",")) == 2
    assert run(DUE + datetime.timedelta(minutes=5)) == []  # sent once
    assert len(fake_push.sent) == 2


@pytest.mark.parametrize("refusal", [unregistered, invalid_token])
def test_a_dead_token_is_forgotten_and_the_reminder_counts_as_sent(
    ana, reminded, run, fake_push, refusal
):
    dead = add_device(ana, "ana-old-phone")
    alive = add_device(ana, "ana-new-phone")
    fake_push.failures["ana-old-phone"] = refusal()
    reminder = reminded(ana)

    assert run() == ["sent"]

    assert [push["token"] for push in fake_push.sent] == ["ana-new-phone"]
    assert not Device.objects.filter(pk=dead.pk).exists()
    assert Device.objects.filter(pk=alive.pk).exists()
    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == ("sent", "")
    # Forgotten through the service: on the patient's audit trail, by the system.
    assert device_audits(
        action=AuditAction.DELETE,
        object_id=str(dead.pk),
        actor=None,
        patient_id=ana.pk,
        clinic_id=ana.clinic_id,
    ).exists()


def test_a_payload_refusal_or_a_passing_error_forgets_no_device(ana, reminded, run, fake_push):
    # given: FCM refuses the message (not the token), and a dead code comes with a retry hint
    add_device(ana, "ana-phone")
    add_device(ana, "ana-tablet")
    fake_push.failures.update(
        {
            "ana-phone": ChannelError(
                "FCM answered HTTP 400 (INVALID_ARGUMENT).",
                retryable=False,
                code="INVALID_ARGUMENT",
            ),
            "ana-tablet": ChannelError("Busy.", retryable=True, code="UNREGISTERED"),
        }
    )
    reminded(ana)

    assert run() == ["pending"]

    assert Device.objects.filter(patient=ana).count() == 2
    assert not device_audits(action=AuditAction.DELETE).exists()


def test_a_device_failing_for_a_passing_reason_is_kept(ana, reminded, run, fake_push):
    flaky = add_device(ana, "ana-flaky")
    add_device(ana, "ana-ok")
    fake_push.failures["ana-flaky"] = unavailable()
    reminder = reminded(ana)

    assert run() == ["sent"]

    assert Device.objects.filter(pk=flaky.pk).exists()
    reminder.refresh_from_db()
    assert reminder.status == "sent"


def test_the_only_device_dead_forgets_it_and_fails_the_reminder(ana, reminded, run, fake_push):
    add_device(ana, "ana-old-phone")
    fake_push.failures["ana-old-phone"] = unregistered()
    reminder = reminded(ana)

    assert run() == ["failed"]

    assert not Device.objects.filter(patient=ana).exists()
    reminder.refresh_from_db()
    assert reminder.status == "failed"
    assert "UNREGISTERED" in reminder.last_error
    assert "ana-old-phone" not in reminder.last_error


def test_a_dead_and_a_passing_failure_retry_later_without_the_dead_device(
    ana, reminded, run, fake_push
):
    add_device(ana, "ana-old-phone")
    add_device(ana, "ana-flaky")
    fake_push.failures.update({"ana-old-phone": unregistered(), "ana-flaky": unavailable()})
    reminder = reminded(ana)

    # when: both fail
    assert run() == ["pending"]

    # then: the dead one is gone, the reminder waits for its backoff
    assert list(Device.objects.filter(patient=ana).values_list("token", flat=True)) == ["ana-flaky"]
    reminder.refresh_from_db()
    assert reminder.status == "pending"
    assert reminder.scheduled_for == DUE + reminders.backoff(1)
    assert "503" in reminder.last_error

    # when: the provider is back
    del fake_push.failures["ana-flaky"]
    assert run(DUE + datetime.timedelta(minutes=2)) == ["sent"]
    assert [push["token"] for push in fake_push.sent] == ["ana-flaky"]


def test_no_device_fails_the_push_reminder(ana, reminded, run, fake_push):
    reminder = reminded(ana)

    assert run() == ["failed"]

    reminder.refresh_from_db()
    assert reminder.last_error == "No device registered for push."
    assert fake_push.sent == []


def test_a_phone_handed_on_no_longer_gets_the_previous_patients_reminders(
    ana, ben, ana_client, ben_client, reminded, run, fake_push
):
    # given: Ana's phone, registered by Ana, then signed into by Ben
    with frozen:
        register(ana_client, "handed-on-phone")
        register(ben_client, "handed-on-phone")
    reminder = reminded(ana)

    # when
    assert run() == ["failed"]

    # then
    assert fake_push.sent == []
    reminder.refresh_from_db()
    assert reminder.last_error == "No device registered for push."


def test_a_device_registered_through_the_api_receives_the_reminder(
    ana, ana_client, reminded, run, fake_push
):
    with frozen:
        assert register(ana_client, "ana-iphone", "ios").status_code == 201
    reminded(ana)

    assert run() == ["sent"]

    assert [(push["token"], push["platform"]) for push in fake_push.sent] == [("ana-iphone", "ios")]
