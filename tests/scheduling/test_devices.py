"""The patient's phones for push (``me/devices/``; scheduling.services.device_register) and the
push delivery of reminders to every device, forgetting dead tokens (scheduling.reminders)."""

import datetime
import itertools
import zoneinfo

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic.models import AuditAction, AuditEvent
from clinic.notifications import ChannelError, DeliveryResult
from programs.services import enrollments
from scheduling import reminders, services
from scheduling.models import Device, Reminder
from tests.factories import (
    PatientFactory,
    ProgramFactory,
    SessionFactory,
    app_account,
    client_of,
)

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
BASE = "/api/v1/me/devices/"
DEVICE_KEYS = {"id", "platform", "created_at", "last_seen_at"}


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


NOW = at(12, 1, 10)
frozen = time_machine.travel(NOW, tick=False)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


# A push provider for these tests ------------------------------------------------------------------


class FakePushBackend:
    """Records each notification; a token listed in ``failures`` raises that error instead."""

    sent: list[dict] = []
    failures: dict[str, ChannelError] = {}
    _ids = itertools.count(1)

    def send(self, token, platform, title, body, data):
        if token in self.failures:
            raise self.failures[token]
        self.sent.append({"token": token, "platform": platform, "title": title, "body": body})
        return DeliveryResult(provider_message_id=f"fake-{next(self._ids)}")


def unregistered():
    return ChannelError(
        "FCM answered HTTP 404 (UNREGISTERED).", retryable=False, code="UNREGISTERED"
    )


def unavailable():
    return ChannelError("FCM answered HTTP 503.", retryable=True)


@pytest.fixture(autouse=True)
def fake_push(settings):
    settings.PUSH_BACKEND = f"{__name__}.FakePushBackend"
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    FakePushBackend.sent.clear()
    FakePushBackend.failures.clear()
    yield FakePushBackend
    FakePushBackend.sent.clear()
    FakePushBackend.failures.clear()


# Patients and their app accounts ------------------------------------------------------------------


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(
        clinic=clinic, actor=admissions, reachable=True, phone="", reminder_channels=["push"]
    )


@pytest.fixture
def ben(clinic, admissions):
    return PatientFactory(
        clinic=clinic, actor=admissions, reachable=True, phone="", reminder_channels=["push"]
    )


@pytest.fixture
def ana_client(ana):
    return client_of(app_account(ana))


@pytest.fixture
def ben_client(ben):
    return client_of(app_account(ben))


ANAS_PHONE = "fcm-token-ana-1"


def register(client, token=ANAS_PHONE, platform="android"):
    return client.post(BASE, {"platform": platform, "token": token}, format="json")


def device_audits(**filters):
    return AuditEvent.objects.filter(object_type="scheduling.device", **filters)


# Registering --------------------------------------------------------------------------------------


@frozen
def test_a_new_device_is_registered_with_201(ana_client, ana):
    # when
    response = register(ana_client, "fcm-token-ana-1", "ios")

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == DEVICE_KEYS  # the token is never echoed back
    device = Device.objects.get()
    assert (body["id"], body["platform"]) == (device.pk, "ios")
    # Both from the database's clock, in the same INSERT.
    assert body["created_at"] == body["last_seen_at"] == iso(device.created_at)
    assert (device.patient, device.platform, device.token) == (ana, "ios", "fcm-token-ana-1")
    assert "no-store" in response["Cache-Control"]
    assert device_audits(
        action=AuditAction.CREATE,
        object_id=str(device.pk),
        actor=ana.app_user,
        patient_id=ana.pk,
        clinic_id=ana.clinic_id,
    ).exists()


def test_the_same_token_again_is_200_and_refreshes_the_device(ana_client, ana):
    with frozen:
        first = register(ana_client, "fcm-token-ana-1", "android")
    later = NOW + datetime.timedelta(days=3)

    with time_machine.travel(later, tick=False):
        again = register(ana_client, "fcm-token-ana-1", "android")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created_at"] == first.json()["created_at"]
    assert again.json()["last_seen_at"] == iso(later)
    device = Device.objects.get()
    assert device.last_seen_at == later
    assert device_audits(action=AuditAction.CREATE).count() == 1
    assert device_audits(
        action=AuditAction.UPDATE, object_id=str(device.pk), patient_id=ana.pk
    ).exists()


@frozen
def test_a_second_phone_is_a_second_device(ana_client, ana):
    register(ana_client, "fcm-token-ana-1", "android")
    response = register(ana_client, "apns-token-ana-2", "ios")

    assert response.status_code == 201
    assert sorted(Device.objects.filter(patient=ana).values_list("platform", "token")) == [
        ("android", "fcm-token-ana-1"),
        ("ios", "apns-token-ana-2"),
    ]


@frozen
def test_a_token_known_for_another_patient_moves_to_this_one(ana_client, ben_client, ana, ben):
    # given: the phone was Ben's
    ben_device = register(ben_client, "shared-phone", "android").json()

    # when: Ana signs into the app on it
    response = register(ana_client, "shared-phone", "ios")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["id"] == ben_device["id"]
    device = Device.objects.get()
    assert (device.patient, device.platform) == (ana, "ios")
    assert not Device.objects.filter(patient=ben).exists()
    assert device_audits(
        action=AuditAction.UPDATE, object_id=str(device.pk), patient_id=ana.pk
    ).exists()


@frozen
def test_the_token_is_stored_without_surrounding_spaces(ana_client):
    register(ana_client, "  fcm-token-ana-1 \n")
    response = register(ana_client, "fcm-token-ana-1")

    assert response.status_code == 200
    assert list(Device.objects.values_list("token", flat=True)) == ["fcm-token-ana-1"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"platform": "windows", "token": "fcm-token"}, "platform"),
        ({"platform": "", "token": "fcm-token"}, "platform"),
        ({"token": "fcm-token"}, "platform"),
        ({"platform": "ios", "token": ""}, "token"),
        ({"platform": "ios", "token": "   "}, "token"),
        ({"platform": "android"}, "token"),
        ({"platform": "ios", "token": "x" * 513}, "token"),
        # Past what a btree index entry holds: a 500 from the unique index before the cap.
        ({"platform": "ios", "token": "x" * 4096}, "token"),
        ({"platform": "ios", "token": "x" * 4097}, "token"),
    ],
)
@frozen
def test_a_bad_platform_or_token_is_a_400_with_the_error_body(ana_client, payload, field):
    response = ana_client.post(BASE, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == "invalid"
    assert body["detail"]
    assert list(body["fields"]) == [field]
    assert body["fields"][field]
    assert not Device.objects.exists()
    assert not device_audits().exists()


@frozen
def test_a_token_of_512_characters_is_accepted(ana_client, ana):
    response = register(ana_client, "t" * 512)

    assert response.status_code == 201, response.content
    assert Device.objects.get().token == "t" * 512


@frozen
def test_the_service_refuses_a_token_longer_than_the_column(ana):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.device_register(actor=None, patient=ana, platform="ios", token="t" * 513)

    assert list(error.value.message_dict) == ["token"]
    assert not Device.objects.exists()


@frozen
def test_the_service_refuses_a_bad_platform_or_a_blank_token(ana):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as platform:
        services.device_register(actor=None, patient=ana, platform="web", token="t")
    with pytest.raises(ValidationError) as token:
        services.device_register(actor=None, patient=ana, platform="ios", token="  ")

    assert list(platform.value.message_dict) == ["platform"]
    assert list(token.value.message_dict) == ["token"]
    assert not Device.objects.exists()


# At most DEVICES_PER_PATIENT ---------------------------------------------------------------------


def register_on(day: int, client, token: str):
    with time_machine.travel(at(12, day, 10), tick=False):
        response = register(client, token)
    assert response.status_code in (200, 201), response.content
    return response.json()["id"]


def test_an_eleventh_device_replaces_the_one_seen_longest_ago(ana_client, ana, ben_client, ben):
    # given: ten phones, the first seen again last (so the second is the stalest)
    ids = [register_on(1 + n, ana_client, f"ana-phone-{n}") for n in range(10)]
    register_on(12, ana_client, "ana-phone-0")
    bens = register_on(1, ben_client, "ben-phone")

    # when
    eleventh = register_on(13, ana_client, "ana-phone-10")

    # then
    assert Device.objects.filter(patient=ana).count() == 10
    assert not Device.objects.filter(pk=ids[1]).exists()
    assert Device.objects.filter(pk=ids[0]).exists()
    assert Device.objects.filter(pk=eleventh).exists()
    assert Device.objects.filter(pk=bens, patient=ben).exists()
    assert list(device_audits(action=AuditAction.DELETE).values_list("object_id", "actor")) == [
        (str(ids[1]), ana.app_user.pk)
    ]


def test_the_cap_is_a_setting_and_a_known_token_takes_no_place(settings, ana_client, ana):
    settings.DEVICES_PER_PATIENT = 2
    first = register_on(1, ana_client, "ana-phone-1")
    second = register_on(2, ana_client, "ana-phone-2")

    # A phone already registered comes back: nothing is replaced.
    assert register_on(3, ana_client, "ana-phone-1") == first
    assert set(Device.objects.values_list("pk", flat=True)) == {first, second}

    third = register_on(4, ana_client, "ana-phone-3")

    assert set(Device.objects.values_list("pk", flat=True)) == {first, third}


def test_a_phone_moving_over_counts_against_its_new_patient(
    settings, ana_client, ben_client, ana, ben
):
    settings.DEVICES_PER_PATIENT = 2
    register_on(1, ana_client, "ana-phone-1")
    kept = register_on(2, ana_client, "ana-phone-2")
    handed_on = register_on(3, ben_client, "ben-phone")

    assert register_on(4, ana_client, "ben-phone") == handed_on

    assert set(Device.objects.filter(patient=ana).values_list("pk", flat=True)) == {
        kept,
        handed_on,
    }
    assert not Device.objects.filter(patient=ben).exists()


@pytest.mark.django_db(transaction=True)
def test_phones_registering_at_once_never_pass_the_cap(settings, ana):
    from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock

    settings.DEVICES_PER_PATIENT = 1
    user = app_account(ana)

    def register_phone(token):
        return lambda: services.device_register(
            actor=user, patient=ana, platform="android", token=token
        )

    # The first registration holds the patient's lock; the second waits for it, then replaces
    # the first phone instead of adding a second.
    with held_transaction(register_phone("phone-a")):
        second = InThread(register_phone("phone-b")).start()
        assert someone_waits_for_a_lock()
    second.join()

    assert list(Device.objects.filter(patient=ana).values_list("token", flat=True)) == ["phone-b"]


# Forgetting ---------------------------------------------------------------------------------------


@frozen
def test_the_patient_forgets_their_own_device_with_204(ana_client, ana):
    device_id = register(ana_client).json()["id"]

    response = ana_client.delete(f"{BASE}{device_id}/")

    assert response.status_code == 204
    assert not Device.objects.exists()
    assert device_audits(
        action=AuditAction.DELETE,
        object_id=str(device_id),
        actor=ana.app_user,
        patient_id=ana.pk,
        clinic_id=ana.clinic_id,
    ).exists()
    assert ana_client.delete(f"{BASE}{device_id}/").status_code == 404


@frozen
def test_another_patients_device_is_404_and_stays(ana_client, ben_client, ben):
    bens = register(ben_client, "fcm-token-ben").json()["id"]

    response = ana_client.delete(f"{BASE}{bens}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Device.objects.get(pk=bens).patient == ben
    assert not device_audits(action=AuditAction.DELETE).exists()


# Who may ------------------------------------------------------------------------------------------


@frozen
def test_staff_get_403(client_for, admissions, clinician, supervisor, ana, ana_client):
    device_id = register(ana_client).json()["id"]

    for user in (admissions, clinician, supervisor):
        client = client_for(user)
        response = register(client, "staff-phone")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert client.delete(f"{BASE}{device_id}/").status_code == 403

    assert list(Device.objects.values_list("token", flat=True)) == ["fcm-token-ana-1"]


@frozen
def test_a_staff_member_linked_to_a_patient_is_refused(client_for, clinician, ana):
    ana.app_user = clinician
    ana.save(update_fields=["app_user"])

    assert register(client_for(clinician)).status_code == 403
    assert not Device.objects.exists()


def test_an_account_without_a_patient_gets_403_and_no_token_401(client_for, user_without_role):
    assert register(client_for(user_without_role)).status_code == 403
    assert register(APIClient()).status_code == 401
    assert APIClient().delete(f"{BASE}1/").status_code == 401
    assert not Device.objects.exists()


# Push delivery ------------------------------------------------------------------------------------

SESSION_START = at(12, 4, 18)
DUE = at(12, 3, 18, 1)  # the 24-hour reminder is due


@pytest.fixture
def program(clinic):
    return ProgramFactory(
        clinic=clinic,
        name="Evening IOP",
        level="iop",
        track="evening",
        capacity=10,
        reminder_offsets_minutes=[1440],
    )


@pytest.fixture
def reminded(clinic, clinician, admissions, program):
    """``reminded(patient)``: the patient is on a session on 4 December at 18:00 and gets one
    push reminder 24 hours before."""

    def make(patient):
        with frozen:
            session = SessionFactory(
                clinic=clinic,
                actor=clinician,
                program=program,
                title="Group",
                kind="group",
                starts_at=SESSION_START,
                ends_at=SESSION_START + datetime.timedelta(hours=3),
            )
            enrollments.enrollment_create(
                actor=admissions,
                patient=patient,
                program=program,
                start_date=datetime.date(2026, 12, 1),
            )
        return Reminder.objects.get(session=session, patient=patient, channel="push")

    return make


@pytest.fixture
def run(send_due_reminders):
    def dispatch_and_send(when=DUE):
        with time_machine.travel(when, tick=False):
            return send_due_reminders()

    return dispatch_and_send


def add_device(patient, token, platform="android"):
    return Device.objects.create(patient=patient, token=token, platform=platform)


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


def invalid_token():
    # What FCMPushBackend raises for an INVALID_ARGUMENT that FCM pins on the token.
    return ChannelError(
        "FCM answered HTTP 400 (INVALID_TOKEN).", retryable=False, code="INVALID_TOKEN"
    )


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
