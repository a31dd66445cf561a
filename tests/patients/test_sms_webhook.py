"""The SMS provider's signed inbound-message webhook: STOP opts the sender out of SMS, START
after a STOP back in (patients.api.webhooks, patients.services.patient_sms_opt_out and
patient_sms_opt_in)."""

import datetime
import zoneinfo
from urllib.parse import urlencode

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from clinic.models import AuditAction, AuditEvent
from clinic.notifications import backends
from clinic.notifications.webhooks import compute_sms_signature
from patients import services as patient_services
from patients.models import Patient
from programs.services import enrollments
from scheduling import reminders
from scheduling.models import Reminder
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, staff_user

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
PATH = "/api/v1/webhooks/sms/"
URL = "http://testserver" + PATH  # what the test client's request builds as its absolute URL
AUTH_TOKEN = "test-sms-auth-token-0123456789abcdef"
PHONE = "+12025550188"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


NOW = at(12, 1, 10)
frozen = time_machine.travel(NOW, tick=False)


@pytest.fixture(autouse=True)
def sms_settings(settings):
    settings.SMS_AUTH_TOKEN = AUTH_TOKEN
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"


def inbound(client, params, *, signature=None, token=AUTH_TOKEN, url=URL):
    """POST the provider's form-encoded webhook, signed as the provider signs it unless a
    ``signature`` is given ("" sends none)."""
    if signature is None:
        signature = compute_sms_signature(url=url, params=params, auth_token=token)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return client.post(
        PATH, urlencode(params), content_type="application/x-www-form-urlencoded", **headers
    )


def stop(client, body="STOP", phone=PHONE, **extra):
    params = {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "From": phone,
        "To": "+12025550100",
        "Body": body,
        **extra,
    }
    return inbound(client, params)


_names = iter(range(1, 100_000))


# Rae agreed to e-mail and SMS at intake, a week before she texts STOP.
INTAKE = NOW - datetime.timedelta(days=7)


@pytest.fixture
def rae(clinic, admissions):
    with time_machine.travel(INTAKE, tick=False):
        return PatientFactory(
            clinic=clinic,
            actor=admissions,
            reachable=True,
            reminder_channels=["email", "sms"],
            phone=PHONE,
        )


def refreshed(patient) -> Patient:
    return Patient.objects.get(pk=patient.pk)


def opt_out_audits():
    return AuditEvent.objects.filter(
        object_type="patients.patient", action=AuditAction.UPDATE, actor__isnull=True
    )


# Opting out ---------------------------------------------------------------------------------------


@frozen
def test_stop_removes_sms_and_keeps_email(api_client, rae, clinic, admissions):
    # when
    response = stop(api_client)

    # then
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/xml")
    assert response.content.decode() == EMPTY_TWIML
    patient = refreshed(rae)
    assert patient.reminder_channels == ["email"]
    assert patient.reminder_channels_recorded_at == NOW
    assert patient.reminder_channels_recorded_by is None
    [event] = opt_out_audits()
    assert (event.object_id, event.patient_id, event.clinic_id, event.actor_id) == (
        str(rae.pk),
        rae.pk,
        clinic.pk,
        None,
    )


@pytest.mark.parametrize("body", ["stop", "Stop", "  STOP  ", "\nstop\n", "sToP\t", "unsubscribe"])
@frozen
def test_stop_in_any_case_with_surrounding_spaces_opts_out(api_client, rae, body):
    response = stop(api_client, body)

    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email"]
    assert opt_out_audits().count() == 1


@frozen
def test_every_patient_with_that_number_is_opted_out(
    api_client, rae, clinic, other_clinic, admissions
):
    # given: a relative sharing the phone, a record at another clinic, someone else's number
    # and a patient with that number who never agreed to SMS
    relative = PatientFactory(
        clinic=clinic, actor=admissions, reminder_channels=["sms"], reachable=True, phone=PHONE
    )
    other_admissions = staff_user(role="admissions", clinics=[other_clinic])
    elsewhere = PatientFactory(
        clinic=other_clinic,
        actor=other_admissions,
        reminder_channels=["sms", "push"],
        reachable=True,
        phone=PHONE,
    )
    stranger = PatientFactory(
        clinic=clinic,
        actor=admissions,
        phone="+12025550199",
        reachable=True,
        reminder_channels=["email", "sms"],
    )
    email_only = PatientFactory(
        clinic=clinic, actor=admissions, reminder_channels=["email"], reachable=True, phone=PHONE
    )

    response = stop(api_client)

    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email"]
    assert refreshed(relative).reminder_channels == []
    assert refreshed(elsewhere).reminder_channels == ["push"]
    assert refreshed(stranger).reminder_channels == ["email", "sms"]
    assert refreshed(email_only).reminder_channels == ["email"]
    assert sorted(opt_out_audits().values_list("patient_id", "clinic_id")) == sorted(
        [(rae.pk, clinic.pk), (relative.pk, clinic.pk), (elsewhere.pk, other_clinic.pk)]
    )
    # The untouched records keep who recorded their consent.
    assert refreshed(stranger).reminder_channels_recorded_by == admissions


@frozen
def test_a_second_stop_changes_nothing_more(api_client, rae):
    stop(api_client)
    response = stop(api_client)

    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email"]
    assert opt_out_audits().count() == 1


@pytest.mark.parametrize("body", ["Thanks, see you Friday", "STOP please", "START", "", "YES"])
@frozen
def test_any_other_text_changes_nothing_and_answers_200_xml(api_client, rae, body):
    before = refreshed(rae)

    response = stop(api_client, body)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert response.content.decode() == EMPTY_TWIML
    after = refreshed(rae)
    assert after.reminder_channels == ["email", "sms"]
    assert after.reminder_channels_recorded_at == before.reminder_channels_recorded_at == INTAKE
    assert not opt_out_audits().exists()


@frozen
def test_a_stop_from_an_unknown_number_is_answered_quietly(api_client, rae):
    response = stop(api_client, phone="+12025550111")

    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email", "sms"]
    assert not opt_out_audits().exists()


@frozen
def test_a_message_without_a_sender_is_a_400(api_client, rae):
    for params in ({"Body": "STOP"}, {"From": "  ", "Body": "STOP"}):
        response = inbound(api_client, params)

        assert response.status_code == 400, params
        body = response.json()
        assert body["code"] == "invalid"
        assert list(body["fields"]) == ["From"]
    assert refreshed(rae).reminder_channels == ["email", "sms"]


# The signature ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        "missing",
        "garbage",
        "another token",
        "another url",
        "tampered body",
        "tampered sender",
    ],
)
@frozen
def test_a_bad_or_missing_signature_is_a_403_and_changes_nothing(api_client, rae, how):
    params = {"From": PHONE, "Body": "STOP"}
    signature = None
    if how == "missing":
        signature = ""
    elif how == "garbage":
        signature = "bm90IGEgc2lnbmF0dXJl"
    elif how == "another token":
        signature = compute_sms_signature(url=URL, params=params, auth_token="not-our-token")
    elif how == "another url":
        signature = compute_sms_signature(
            url="https://evil.example/api/v1/webhooks/sms/", params=params, auth_token=AUTH_TOKEN
        )
    elif how == "tampered body":
        signature = compute_sms_signature(
            url=URL, params={**params, "Body": "Hi"}, auth_token=AUTH_TOKEN
        )
    elif how == "tampered sender":
        signature = compute_sms_signature(
            url=URL, params={**params, "From": "+12025550111"}, auth_token=AUTH_TOKEN
        )

    response = inbound(api_client, params, signature=signature)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    patient = refreshed(rae)
    assert patient.reminder_channels == ["email", "sms"]
    assert patient.reminder_channels_recorded_by_id is not None
    assert not opt_out_audits().exists()


@frozen
def test_without_an_auth_token_configured_nothing_verifies(api_client, rae, settings):
    settings.SMS_AUTH_TOKEN = ""
    params = {"From": PHONE, "Body": "STOP"}

    response = inbound(api_client, params, token="")

    assert response.status_code == 403
    assert refreshed(rae).reminder_channels == ["email", "sms"]


@frozen
def test_a_signature_over_the_url_with_the_default_port_verifies(api_client, rae):
    params = {"From": PHONE, "Body": "STOP"}

    response = inbound(api_client, params, url="http://testserver:80" + PATH)

    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email"]


@frozen
def test_the_webhook_needs_no_login(api_client, rae, client_for):
    # A logged-in staff member's call is judged by the signature alone.
    response = inbound(client_for(staff_user(role="admissions")), {"From": PHONE, "Body": "STOP"})

    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email"]


@frozen
def test_a_get_is_not_allowed(api_client):
    assert api_client.get(PATH).status_code == 405


# Reminders after the opt-out ----------------------------------------------------------------------


def test_a_pending_sms_reminder_is_cancelled_at_send_time(
    api_client, rae, clinic, admissions, clinician, django_capture_on_commit_callbacks
):
    # given: Rae on a session on 4 December at 18:00, reminded by e-mail and SMS 24 hours before
    program = ProgramFactory(
        clinic=clinic,
        name="Evening IOP",
        level="iop",
        track="evening",
        capacity=10,
        reminder_offsets_minutes=[1440],
    )
    with frozen:
        start = at(12, 4, 18)
        SessionFactory(
            clinic=clinic,
            actor=clinician,
            program=program,
            title="Group",
            kind="group",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=3),
        )
        enrollments.enrollment_create(
            actor=admissions, patient=rae, program=program, start_date=datetime.date(2026, 12, 1)
        )
        assert stop(api_client).status_code == 200
    sms = Reminder.objects.get(patient=rae, channel="sms")
    assert sms.status == "pending"
    mail.outbox.clear()

    # when: the reminders fall due
    wakes = []
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            reminders.dispatch(lambda: wakes.append(1))
        outcomes = sorted(status for _ in wakes for status in reminders.drain().values())

    # then
    assert outcomes == ["cancelled", "sent"]
    sms.refresh_from_db()
    assert sms.status == "cancelled"
    assert sms.sent_at is None
    assert backends.sms_outbox() == []
    assert Reminder.objects.get(patient=rae, channel="email").status == "sent"
    assert len(mail.outbox) == 1


# Opting back in -----------------------------------------------------------------------------------

LATER = NOW + datetime.timedelta(days=1)


def opted_in_audits():
    return opt_out_audits().filter(occurred_at=LATER)


@pytest.mark.parametrize("body", ["START", "unstop", "  Start\n", "yes"])
@frozen
def test_start_after_stop_gives_sms_back(api_client, rae, clinic, body):
    stop(api_client)

    with time_machine.travel(LATER, tick=False):
        response = stop(api_client, body)

    assert response.status_code == 200
    assert response.content.decode() == EMPTY_TWIML
    patient = refreshed(rae)
    assert patient.reminder_channels == ["email", "sms"]
    assert (patient.reminder_channels_recorded_by, patient.reminder_channels_recorded_at) == (
        None,
        LATER,
    )
    assert patient.sms_opted_out_at is None
    [event] = opted_in_audits()
    assert (event.patient_id, event.clinic_id, event.actor_id) == (rae.pk, clinic.pk, None)


@frozen
def test_start_gives_sms_back_only_where_a_stop_took_it_away(api_client, rae, clinic, admissions):
    # given: Rae and three relatives texted STOP from their shared number; afterwards staff
    # record one relative's channels again (without SMS), another's new number and the third's
    # SMS back, and a fourth relative on that number, who never chose SMS, is registered
    relative = PatientFactory(
        clinic=clinic,
        actor=admissions,
        reminder_channels=["email", "sms"],
        reachable=True,
        phone=PHONE,
    )
    moved = PatientFactory(
        clinic=clinic, actor=admissions, reminder_channels=["sms"], reachable=True, phone=PHONE
    )
    back = PatientFactory(
        clinic=clinic, actor=admissions, reminder_channels=["sms"], reachable=True, phone=PHONE
    )
    stop(api_client)
    patient_services.patient_update(
        actor=admissions, patient=relative, reminder_channels=["email", "push"]
    )
    patient_services.patient_update(actor=admissions, patient=moved, phone="+12025550177")
    patient_services.patient_update(actor=admissions, patient=back, reminder_channels=["sms"])
    never_chose_sms = PatientFactory(
        clinic=clinic, actor=admissions, reminder_channels=["email"], reachable=True, phone=PHONE
    )

    # when: START from the shared number and from the new one
    with time_machine.travel(LATER, tick=False):
        response = stop(api_client, "START")
        stop(api_client, "START", phone="+12025550177")

    # then: only Rae's last change was the STOP
    assert response.status_code == 200
    assert refreshed(rae).reminder_channels == ["email", "sms"]
    assert refreshed(relative).reminder_channels == ["email", "push"]
    assert refreshed(relative).reminder_channels_recorded_by == admissions
    assert refreshed(moved).reminder_channels == []
    assert refreshed(back).reminder_channels == ["sms"]
    assert refreshed(back).reminder_channels_recorded_by == admissions
    assert refreshed(never_chose_sms).reminder_channels == ["email"]
    assert list(opted_in_audits().values_list("patient_id", flat=True)) == [rae.pk]


@frozen
def test_start_from_a_number_that_never_texted_stop_changes_nothing(
    api_client, rae, clinic, admissions
):
    # given: the number's one STOP was Rae's; Sam's number never texted STOP
    sam = PatientFactory(
        clinic=clinic,
        actor=admissions,
        reminder_channels=["email"],
        phone="+12025550199",
        reachable=True,
    )
    stop(api_client)

    with time_machine.travel(LATER, tick=False):
        assert stop(api_client, "START", phone="+12025550199").status_code == 200
        assert stop(api_client, "START").status_code == 200

    assert refreshed(sam).reminder_channels == ["email"]
    assert refreshed(sam).reminder_channels_recorded_by == admissions
    assert refreshed(rae).reminder_channels == ["email", "sms"]
    assert list(opted_in_audits().values_list("patient_id", flat=True)) == [rae.pk]


@frozen
def test_a_badly_signed_start_is_a_403_and_changes_nothing(api_client, rae):
    stop(api_client)
    params = {"From": PHONE, "Body": "START"}

    with time_machine.travel(LATER, tick=False):
        response = inbound(api_client, params, signature="bm90IGEgc2lnbmF0dXJl")

    assert response.status_code == 403
    assert refreshed(rae).reminder_channels == ["email"]
    assert not opted_in_audits().exists()
    # The STOP still counts: the provider's own START, signed, is taken.
    with time_machine.travel(LATER, tick=False):
        assert inbound(api_client, params).status_code == 200
    assert refreshed(rae).reminder_channels == ["email", "sms"]


@frozen
def test_the_database_keeps_sms_off_while_a_stop_holds(api_client, rae):
    stop(api_client)

    refused = pytest.raises(IntegrityError, match="patient_sms_opt_out_without_sms")
    with refused, transaction.atomic():
        Patient.objects.filter(pk=rae.pk).update(reminder_channels=["email", "sms"])


@frozen
def test_start_plans_the_sms_reminders_of_sessions_already_on_the_schedule(
    api_client, rae, clinic, admissions, clinician, send_due_reminders
):
    # given: Rae texted STOP before she joined a program with sessions on 4 and 5 December
    program = ProgramFactory(
        clinic=clinic,
        name="Evening IOP",
        level="iop",
        track="evening",
        capacity=10,
        reminder_offsets_minutes=[1440],
    )
    assert stop(api_client).status_code == 200
    for day in (4, 5):
        start = at(12, day, 18)
        SessionFactory(
            clinic=clinic,
            actor=clinician,
            program=program,
            title="Group",
            kind="group",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=3),
        )
    enrollments.enrollment_create(
        actor=admissions, patient=rae, program=program, start_date=datetime.date(2026, 12, 1)
    )
    assert not Reminder.objects.filter(patient=rae, channel="sms").exists()

    # when
    with time_machine.travel(LATER, tick=False):
        assert stop(api_client, "UNSTOP").status_code == 200

    # then
    assert sorted(
        Reminder.objects.filter(patient=rae, channel="sms").values_list("scheduled_for", "status")
    ) == [(at(12, 3, 18), "pending"), (at(12, 4, 18), "pending")]
    mail.outbox.clear()
    with time_machine.travel(at(12, 3, 18, 1), tick=False):
        assert send_due_reminders() == ["sent", "sent"]  # the e-mail and the SMS
        assert send_due_reminders() == []
    [sms] = backends.sms_outbox()
    assert sms.to == PHONE


# Throttling ---------------------------------------------------------------------------------------


@pytest.fixture
def production_anon_rate(monkeypatch):
    """The anonymous rate of production (the test settings raise it), on a cache key of this
    test's own: another client address than the other tests'."""
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "60/minute"})
    return f"10.9.{next(_names) % 256}.{next(_names) % 250 + 1}"


@frozen
def test_a_burst_of_signed_stops_is_not_throttled_and_every_one_opts_out(
    clinic, admissions, production_anon_rate
):
    # Replies to a bulk message, relayed by the provider from one of its addresses.
    numbers = [f"+120255501{n:02d}" for n in range(100)]
    patients = [
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            phone=number,
            reachable=True,
            reminder_channels=["email", "sms"],
        )
        for number in numbers
    ]
    provider = APIClient(REMOTE_ADDR=production_anon_rate)

    codes = [stop(provider, phone=number).status_code for number in numbers]

    assert codes == [200] * 100
    assert all("sms" not in refreshed(p).reminder_channels for p in patients)


@frozen
def test_unsigned_bursts_are_still_throttled(production_anon_rate):
    caller = APIClient(REMOTE_ADDR=production_anon_rate)

    codes = [
        inbound(caller, {"From": PHONE, "Body": "STOP"}, signature="forged").status_code
        for _ in range(61)
    ]

    assert codes[:60] == [403] * 60
    assert codes[60] == 429
    # A signed request from the same address still goes through.
    assert stop(caller).status_code == 200
