"""Callback requests (issue 28, item 5): a message asking the caller to call the clinic back,
refused without consent or an address, worded with the clinic's public name only, and sent by
beat exactly once through the shared outbox."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic import notifications
from clinic.errors import Conflict
from clinic.models import AuditAction, AuditEvent
from clinic.notifications import backends
from programs.locks import inquiry_lock
from programs.models import CallbackRequest, InquiryStatus
from programs.services import inquiries, inquiry_followup, outbox
from programs.tasks import callback_requests_send_task
from tests.conftest import TUESDAY_10AM
from tests.factories import InquiryFactory, ProgramFactory, staff_user
from tests.programs.admin.helpers import html, log_in
from tests.scheduling.test_reminders import REVEALING

pytestmark = pytest.mark.django_db

CALLER_PHONE = "+12025550188"


@pytest.fixture
def inquiry(clinic, frozen_time):
    """A mother calling for her son about a residential program; she agreed to be called back
    by phone, and gave her number and e-mail address."""
    return InquiryFactory(
        clinic=clinic,
        first_name="Marcus",
        last_name="Whitfield",
        caller_relation="parent",
        caller_name="Delia Whitfield",
        caller_phone=CALLER_PHONE,
        caller_email="delia@example.org",
        substances="Alcohol and opioids",
        callback_consent=True,
        callback_method="phone",
        program=ProgramFactory(clinic=clinic, name="Riverbend Residential Detox"),
    )


def request(admissions, inquiry, **kwargs):
    return inquiry_followup.callback_request(actor=admissions, inquiry=inquiry, **kwargs)


# Asking ------------------------------------------------------------------------------------------


def test_a_caller_who_asked_for_a_call_gets_a_text_on_their_phone(admissions, inquiry):
    callback = request(admissions, inquiry)

    assert (callback.channel, callback.to, callback.status) == ("sms", CALLER_PHONE, "pending")
    assert (callback.due_at, callback.requested_at, callback.requested_by) == (
        TUESDAY_10AM,
        TUESDAY_10AM,
        admissions,
    )
    audit = AuditEvent.objects.get(
        object_type="programs.callbackrequest", object_id=str(callback.pk)
    )
    assert (audit.action, audit.actor, audit.clinic_id) == (
        AuditAction.CREATE,
        admissions,
        inquiry.clinic_id,
    )


def test_an_e_mail_goes_to_the_caller_s_address(admissions, inquiry):
    callback = request(admissions, inquiry, channel="email")

    assert (callback.channel, callback.to) == ("email", "delia@example.org")


def test_someone_calling_for_themself_is_reached_at_their_own_number(clinic, admissions):
    with time_machine.travel(TUESDAY_10AM, tick=False):
        own = InquiryFactory(
            clinic=clinic, phone="(202) 555-0101", callback_consent=True, callback_method="sms"
        )
        callback = request(admissions, own)

    assert (callback.channel, callback.to) == ("sms", "+12025550101")


@pytest.mark.parametrize(
    ("changes", "channel", "code"),
    [
        ({"callback_consent": False, "callback_method": ""}, None, "no_callback_consent"),
        ({"caller_phone": ""}, None, "no_callback_address"),
        ({"caller_email": ""}, "email", "no_callback_address"),
    ],
)
def test_no_consent_or_no_address_is_a_409_and_nothing_is_queued(
    admissions, inquiry, changes, channel, code
):
    inquiry = inquiries.inquiry_update(actor=admissions, inquiry=inquiry, **changes)

    with pytest.raises(Conflict) as refused:
        request(admissions, inquiry, channel=channel)

    assert refused.value.code == code
    assert not CallbackRequest.objects.exists()


@pytest.mark.parametrize("channel", ["phone", "push", "fax"])
def test_only_e_mail_or_sms_is_a_channel(admissions, inquiry, channel):
    with pytest.raises(ValidationError) as refused:
        request(admissions, inquiry, channel=channel)

    assert "channel" in refused.value.message_dict


def test_a_closed_inquiry_asks_no_one(admissions, inquiry):
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status=InquiryStatus.NOT_ADMITTED,
            not_admitted_reason="unable_to_reach",
            actor=admissions,
            now=TUESDAY_10AM,
        )

    with pytest.raises(Conflict) as refused:
        request(admissions, inquiry)

    assert refused.value.code == "invalid_state"


def test_a_request_still_waiting_is_not_doubled(admissions, inquiry):
    request(admissions, inquiry)

    with pytest.raises(Conflict) as refused:
        request(admissions, inquiry, channel="email")

    assert refused.value.code == "callback_pending"
    callback_requests_send_task()
    assert request(admissions, inquiry).status == "pending"  # the first went out


def test_only_admissions_ask(clinic, inquiry):
    with pytest.raises(PermissionDenied):
        request(staff_user(role="clinician", clinics=[clinic]), inquiry)


# Sending -----------------------------------------------------------------------------------------


def test_the_text_names_only_the_clinic_s_public_name(clinic, admissions, inquiry):
    """The reminders' word list, and nothing from the call: not the program, the person, the
    caller, the substances or the clinic's own name."""
    request(admissions, inquiry)
    callback_requests_send_task()
    request(admissions, inquiry, channel="email")
    callback_requests_send_task()

    [sms] = backends.sms_outbox()
    [email] = mail.outbox
    assert (sms.to, email.to) == (CALLER_PHONE, ["delia@example.org"])
    forbidden = [
        *REVEALING,
        "riverbend",
        "marcus",
        "whitfield",
        "delia",
        "opioid",
        clinic.name.lower(),
    ]
    for text in (sms.text, email.subject, email.body):
        lowered = text.lower()
        assert not [word for word in forbidden if word in lowered], text
        assert clinic.public_name in text
    assert sms.text == f"{clinic.public_name} asks you to call them as soon as you can."


def test_a_request_is_sent_exactly_once(admissions, inquiry):
    callback = request(admissions, inquiry)

    first = callback_requests_send_task()
    again = callback_requests_send_task()

    assert (first, again) == ({"sent": 1}, {})
    assert len(backends.sms_outbox()) == 1
    callback.refresh_from_db()
    assert (callback.status, callback.sent_at, callback.attempts) == ("sent", TUESDAY_10AM, 1)
    assert callback.provider_message_id == backends.sms_outbox()[0].id


def test_a_send_cut_off_mid_call_is_unknown_and_never_resent(admissions, inquiry):
    callback = request(admissions, inquiry)
    # A worker claimed it and died before recording the outcome.
    CallbackRequest.objects.filter(pk=callback.pk).update(
        status="sending", claimed_at=TUESDAY_10AM - datetime.timedelta(hours=1), attempts=1
    )

    assert callback_requests_send_task() == {}

    callback.refresh_from_db()
    assert callback.status == "unknown"
    assert backends.sms_outbox() == []


def test_provider_errors_retry_with_backoff_then_fail(admissions, inquiry, monkeypatch):
    callback = request(admissions, inquiry)

    def broken(**kwargs):
        raise notifications.ChannelError("provider unavailable (503)", retryable=True)

    monkeypatch.setattr(notifications, "send_sms", broken)
    outcomes = []
    now = TUESDAY_10AM
    for _attempt in range(outbox.MAX_ATTEMPTS):
        with time_machine.travel(now, tick=False):
            outcomes.append(callback_requests_send_task())
        callback.refresh_from_db()
        now = callback.due_at

    assert outcomes == [{"pending": 1}] * (outbox.MAX_ATTEMPTS - 1) + [{"failed": 1}]
    assert (callback.status, callback.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert callback.last_error == "provider unavailable (503)"


def test_a_text_waits_for_the_end_of_the_clinic_s_quiet_hours(admissions, inquiry):
    request(admissions, inquiry)
    late_evening = datetime.datetime(2026, 12, 2, 3, tzinfo=datetime.UTC)  # 22:00 in New York

    with time_machine.travel(late_evening, tick=False):
        assert callback_requests_send_task() == {"pending": 1}
    callback = CallbackRequest.objects.get()
    assert (callback.status, callback.attempts) == ("pending", 0)
    assert callback.due_at == datetime.datetime(2026, 12, 2, 13, tzinfo=datetime.UTC)  # 08:00
    assert backends.sms_outbox() == []


def test_a_request_for_an_inquiry_closed_meanwhile_is_skipped(admissions, inquiry):
    request(admissions, inquiry)
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status=InquiryStatus.NOT_ADMITTED,
            not_admitted_reason="chose_elsewhere",
            actor=admissions,
            now=TUESDAY_10AM,
        )

    assert callback_requests_send_task() == {"skipped": 1}
    assert backends.sms_outbox() == []


def test_a_withdrawn_consent_is_read_again_before_sending(admissions, inquiry):
    request(admissions, inquiry)
    inquiries.inquiry_update(
        actor=admissions, inquiry=inquiry, callback_consent=False, callback_method=""
    )

    assert callback_requests_send_task() == {"skipped": 1}
    assert CallbackRequest.objects.get().last_error.startswith("The caller withdrew")


# The API -----------------------------------------------------------------------------------------


def test_the_api_asks_and_lists_with_audited_reads(client_for, admissions, inquiry):
    client = client_for(admissions)
    path = f"/api/v1/inquiries/{inquiry.pk}/callback-requests/"

    created = client.post(path, {"channel": "email"}, format="json")
    listed = client.get(path)

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["channel"], body["to"], body["status"], body["requested_by"]) == (
        "email",
        "delia@example.org",
        "pending",
        admissions.username,
    )
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [body["id"]]
    assert AuditEvent.objects.filter(
        object_type="programs.callbackrequest", action=AuditAction.LIST, actor=admissions
    ).exists()


def test_the_api_answers_refusals_with_their_codes(clinic, client_for, admissions, inquiry):
    client = client_for(admissions)
    path = f"/api/v1/inquiries/{inquiry.pk}/callback-requests/"

    assert client.post(path, {"channel": "fax"}, format="json").status_code == 400
    client.post(path, {}, format="json")
    twice = client.post(path, {}, format="json")
    clinician = client_for(staff_user(role="clinician", clinics=[clinic]))

    assert (twice.status_code, twice.json()["code"]) == (409, "callback_pending")
    assert clinician.post(path, {}, format="json").status_code == 403
    assert clinician.get(path).status_code == 200


def test_another_clinic_s_inquiry_is_a_404(client_for, other_clinic, inquiry):
    stranger = client_for(staff_user(role="admissions", clinics=[other_clinic]))
    path = f"/api/v1/inquiries/{inquiry.pk}/callback-requests/"

    assert stranger.get(path).status_code == 404
    assert stranger.post(path, {}, format="json").status_code == 404


@pytest.mark.parametrize("page_size", [1, 50])
def test_the_list_s_query_count_is_pinned(clinic, client_for, admissions, inquiry, page_size):
    for _ in range(3):
        request(admissions, inquiry)
        callback_requests_send_task()
    client = client_for(admissions)
    path = f"/api/v1/inquiries/{inquiry.pk}/callback-requests/"
    client.get(path)  # the user's roles and clinics, cached on it

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(page_size, 3)
    # The inquiry, the page's count and rows, one audit INSERT.
    assert len(captured) == 4, [query["sql"] for query in captured]


# The admin ---------------------------------------------------------------------------------------


def test_the_inquiry_s_page_asks_the_caller_to_call_back(client, admissions, inquiry):
    log_in(client, admissions)
    page = f"/admin/programs/inquiry/{inquiry.pk}/"

    offered = html(client.get(f"{page}change/"))
    sent = client.post(f"{page}request_callback/", {"channel": ""})
    refused = client.post(f"{page}request_callback/", {"channel": "email"})

    assert f"{page}request_callback/" in offered
    assert sent.status_code == 302
    assert CallbackRequest.objects.get().channel == "sms"
    assert refused.status_code == 200
    assert "still waiting to go out" in html(refused)
