"""The FCM HTTP v1 push backend against a fake provider: the access token, what it sends, what it
retries."""

import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.exceptions import ImproperlyConfigured

from clinic.notifications import ChannelError, send_push
from tests.clinic.notifications.helpers import (
    DEVICE_TOKEN,
    FCM_SCOPE,
    PROJECT,
    SEND_PATH,
    SERVICE_ACCOUNT_EMAIL,
    Reply,
    assert_private,
    b64url_decode,
    fcm_invalid_argument,
    unused_port,
)


def test_fcm_sends_with_the_service_accounts_bearer_token(fcm, rsa_key):
    fcm.replies[SEND_PATH] = Reply(200, {"name": f"projects/{PROJECT}/messages/0:1234"})

    result = send_push(
        token=DEVICE_TOKEN,
        platform="android",
        title="Reminder",
        body="Tue 6 PM",
        data={"session_id": 42, "kind": "reminder"},
    )

    assert result.provider_message_id == f"projects/{PROJECT}/messages/0:1234"
    token_request, send_request = fcm.received
    assert token_request.path == "/token"
    grant = token_request.form()
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    # The grant is a JWT signed with the service account's key.
    header, claims, signature = grant["assertion"].split(".")
    rsa_key.public_key().verify(
        b64url_decode(signature),
        f"{header}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims = json.loads(b64url_decode(claims))
    assert claims["iss"] == SERVICE_ACCOUNT_EMAIL
    assert claims["scope"] == FCM_SCOPE

    assert send_request.path == SEND_PATH
    assert send_request.headers["Authorization"] == "Bearer fake-access-token"
    assert send_request.json() == {
        "message": {
            "token": DEVICE_TOKEN,
            "notification": {"title": "Reminder", "body": "Tue 6 PM"},
            "data": {"session_id": "42", "kind": "reminder"},
        }
    }


def test_fcm_reuses_the_access_token_until_it_expires(fcm):
    fcm.replies[SEND_PATH] = Reply(200, {"name": f"projects/{PROJECT}/messages/1"})

    send_push(token=DEVICE_TOKEN, platform="ios", title="T", body="B")
    send_push(token=DEVICE_TOKEN, platform="ios", title="T", body="B")

    assert fcm.paths() == ["/token", SEND_PATH, SEND_PATH]
    assert "data" not in fcm.received[1].json()["message"]


def test_fcm_unregistered_token_is_not_retryable(fcm):
    fcm.replies[SEND_PATH] = Reply(
        404,
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED",
                    }
                ],
            }
        },
    )

    with pytest.raises(ChannelError) as raised:
        send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue 6 PM")

    assert raised.value.retryable is False
    assert raised.value.code == "UNREGISTERED"
    assert_private(raised.value, DEVICE_TOKEN, "Reminder", "Tue 6 PM", "fake-access-token")


@pytest.mark.parametrize(
    "reply",
    [
        # What FCM answers for a malformed or foreign token.
        fcm_invalid_argument("The registration token is not a valid FCM registration token"),
        fcm_invalid_argument(
            "Invalid argument.",
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "message.token", "description": "Invalid token"}],
            },
        ),
    ],
)
def test_fcm_invalid_token_is_told_apart_from_other_invalid_arguments(fcm, reply):
    fcm.replies[SEND_PATH] = reply

    with pytest.raises(ChannelError) as raised:
        send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue 6 PM")

    assert raised.value.retryable is False
    assert raised.value.code == "INVALID_TOKEN"
    assert_private(raised.value, DEVICE_TOKEN, "Reminder", "Tue 6 PM")


def test_fcm_invalid_payload_says_nothing_about_the_token(fcm):
    fcm.replies[SEND_PATH] = fcm_invalid_argument(
        "Invalid value at 'message.data[0].value' (TYPE_STRING)",
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.data[0].value", "description": "Invalid"}],
        },
    )

    with pytest.raises(ChannelError) as raised:
        send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue 6 PM")

    assert (raised.value.retryable, raised.value.code) == (False, "INVALID_ARGUMENT")


@pytest.mark.parametrize("status", [429, 500])
def test_fcm_server_error_is_retryable(fcm, status):
    fcm.replies[SEND_PATH] = Reply(status, {"error": {"code": status, "status": "INTERNAL"}})

    with pytest.raises(ChannelError) as raised:
        send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue 6 PM")

    assert raised.value.retryable is True
    assert_private(raised.value, DEVICE_TOKEN, "Reminder", "Tue 6 PM")


def test_fcm_refused_service_account_is_not_retryable(fcm):
    fcm.replies["/token"] = Reply(
        400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    )

    with pytest.raises(ChannelError) as raised:
        send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue 6 PM")

    assert raised.value.retryable is False
    assert "invalid_grant" in raised.value.detail
    assert fcm.paths() == ["/token"]
    assert_private(raised.value, DEVICE_TOKEN, "Reminder")


def test_fcm_unreachable_is_retryable(fcm, settings):
    settings.FCM_API_BASE_URL = f"http://127.0.0.1:{unused_port()}"

    with pytest.raises(ChannelError) as raised:
        send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue 6 PM")

    assert raised.value.retryable is True


def test_fcm_needs_a_service_account_file(fcm, settings, tmp_path):
    settings.FCM_SERVICE_ACCOUNT_FILE = str(tmp_path / "missing.json")

    with pytest.raises(ImproperlyConfigured, match="FCM_SERVICE_ACCOUNT_FILE"):
        send_push(token=DEVICE_TOKEN, platform="android", title="T", body="B")
