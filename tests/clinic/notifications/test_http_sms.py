"""The HTTP SMS backend (Twilio-style) against a fake provider: what it sends, what it retries."""

import base64
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.notifications import ChannelError, send_sms
from tests.clinic.notifications.helpers import (
    MESSAGES_PATH,
    PHONE,
    SID,
    TEXT,
    Reply,
    assert_private,
    unused_port,
)


def test_http_sms_posts_the_form_with_basic_auth_and_returns_the_sid(http_sms):
    http_sms.replies[MESSAGES_PATH] = Reply(201, {"sid": "SM123", "status": "queued"})

    result = send_sms(to=PHONE, text=TEXT)

    assert result.provider_message_id == "SM123"
    [request] = http_sms.received
    assert request.path == MESSAGES_PATH
    credentials = base64.b64encode(f"{SID}:sms-auth-token".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == {"To": PHONE, "From": "+15550001111", "Body": TEXT}


def test_http_sms_refused_number_is_not_retryable(http_sms):
    http_sms.replies[MESSAGES_PATH] = Reply(
        400,
        {
            "code": 21211,
            "message": f"The 'To' number {PHONE} is not a valid phone number.",
            "status": 400,
        },
    )

    with pytest.raises(ChannelError) as raised:
        send_sms(to=PHONE, text=TEXT)

    assert raised.value.retryable is False
    assert raised.value.code == "21211"
    assert "400" in raised.value.detail
    assert_private(raised.value, PHONE, TEXT, "sms-auth-token")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_sms_busy_provider_is_retryable(http_sms, status):
    http_sms.replies[MESSAGES_PATH] = Reply(status, {"message": f"busy sending to {PHONE}"})

    with pytest.raises(ChannelError) as raised:
        send_sms(to=PHONE, text=TEXT)

    assert raised.value.retryable is True
    assert str(status) in raised.value.detail
    assert_private(raised.value, PHONE, TEXT)


def test_http_sms_refused_connection_is_retryable(http_sms, settings):
    settings.SMS_API_BASE_URL = f"http://127.0.0.1:{unused_port()}"

    with pytest.raises(ChannelError) as raised:
        send_sms(to=PHONE, text=TEXT)

    assert raised.value.retryable is True
    assert_private(raised.value, PHONE, TEXT, SID)


def test_http_sms_timeout_is_retryable(http_sms, settings):
    settings.SMS_TIMEOUT_SECONDS = 0.2
    http_sms.replies[MESSAGES_PATH] = Reply(201, {"sid": "SM-late"}, delay=1.5)

    started = time.monotonic()
    with pytest.raises(ChannelError) as raised:
        send_sms(to=PHONE, text=TEXT)

    assert time.monotonic() - started < 1.5
    assert raised.value.retryable is True
    assert "Timeout" in raised.value.detail
    assert_private(raised.value, PHONE, TEXT)


def test_http_sms_accepted_without_a_sid_is_not_retried(http_sms):
    # The provider may send it: a retry could send it twice.
    http_sms.replies[MESSAGES_PATH] = Reply(201, {"status": "queued"})

    with pytest.raises(ChannelError) as raised:
        send_sms(to=PHONE, text=TEXT)

    assert raised.value.retryable is False


def test_http_sms_needs_its_credentials(http_sms, settings):
    settings.SMS_AUTH_TOKEN = ""

    with pytest.raises(ImproperlyConfigured, match="SMS_AUTH_TOKEN"):
        send_sms(to=PHONE, text=TEXT)
