"""The notification channels: email, the SMS and push backends, and the inbound SMS webhook.

The HTTP backends talk to a fake provider on 127.0.0.1 started by the test, never to a real
host.
"""

import base64
import hashlib
import hmac
import json
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.http import QueryDict

from clinic.notifications import ChannelError, send_email, send_push, send_sms
from clinic.notifications import backends as channel_backends
from clinic.notifications.webhooks import (
    is_opt_in,
    is_opt_out,
    parse_inbound_sms,
    verify_sms_signature,
)

PHONE = "+15551234567"
TEXT = "Reminder: Maple Street Center, Tue 6:00 PM"
DEVICE_TOKEN = "fcm-device-token-0123456789abcdefWXYZ"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@pytest.fixture(autouse=True)
def _fresh_channels():
    channel_backends.clear()
    yield
    channel_backends.clear()


# A fake provider ----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    payload: object = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def form(self) -> dict:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}

    def json(self):
        return json.loads(self.body)


class FakeProvider:
    """An HTTP server on 127.0.0.1 that answers each path with its ``Reply`` and records every
    request."""

    def __init__(self):
        self.replies: dict[str, Reply] = {}
        self.received: list[Received] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                provider.received.append(
                    Received("POST", self.path, dict(self.headers), self.rfile.read(length))
                )
                reply = provider.replies.get(self.path, Reply(404, {"error": "no such path"}))
                time.sleep(reply.delay)
                body = json.dumps(reply.payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def paths(self) -> list[str]:
        return [request.path for request in self.received]


@pytest.fixture
def fake_provider(monkeypatch):
    # A proxy from the environment must not stand between the backend and 127.0.0.1.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    provider = FakeProvider()
    provider.thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_private(error: ChannelError, *secrets: str) -> None:
    for text in (error.detail, str(error), repr(error)):
        for secret in secrets:
            assert secret not in text


# Email --------------------------------------------------------------------------------------------


def test_email_sends_text_with_an_html_alternative(mailoutbox, settings):
    settings.DEFAULT_FROM_EMAIL = "reminders@clinic.example"

    result = send_email(
        to="pat@example.com", subject="Your appointment", text="Tue 6 PM", html="<p>Tue 6 PM</p>"
    )

    [message] = mailoutbox
    assert message.to == ["pat@example.com"]
    assert message.from_email == "reminders@clinic.example"
    assert message.subject == "Your appointment"
    assert message.body == "Tue 6 PM"
    assert [tuple(alternative) for alternative in message.alternatives] == [
        ("<p>Tue 6 PM</p>", "text/html")
    ]
    assert message.message()["Message-ID"] == result.provider_message_id
    assert result.provider_message_id.startswith("<")


def test_email_without_html_is_plain_text(mailoutbox):
    send_email(to="pat@example.com", subject="Your appointment", text="Tue 6 PM")

    [message] = mailoutbox
    assert message.alternatives == []
    assert message.message().get_content_type() == "text/plain"


class RefusingEmailBackend(BaseEmailBackend):
    """Raises ``refusal``, as the SMTP backend does on a server's answer."""

    refusal: Exception = smtplib.SMTPServerDisconnected("gone")

    def send_messages(self, email_messages):
        raise RefusingEmailBackend.refusal


@pytest.mark.parametrize(
    ("refusal", "retryable"),
    [
        (smtplib.SMTPRecipientsRefused({"pat@example.com": (550, b"no such user")}), False),
        (smtplib.SMTPRecipientsRefused({"pat@example.com": (451, b"try later")}), True),
        (smtplib.SMTPDataError(554, b"rejected"), False),
        (smtplib.SMTPSenderRefused(421, b"busy", "reminders@clinic.example"), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
    ],
)
def test_email_failures_say_whether_to_retry(settings, monkeypatch, refusal, retryable):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"
    monkeypatch.setattr(RefusingEmailBackend, "refusal", refusal)

    with pytest.raises(ChannelError) as raised:
        send_email(to="pat@example.com", subject="Your appointment", text="Tue 6 PM")

    assert raised.value.retryable is retryable
    assert_private(raised.value, "pat@example.com", "Tue 6 PM", "appointment")


def test_a_silent_mail_server_fails_the_email_within_email_timeout(settings):
    # Django's SMTP backend waits forever unless EMAIL_TIMEOUT says otherwise: one stuck mail
    # server would hold a reminder drain (and its rows) past every budget.
    assert settings.EMAIL_TIMEOUT == 10
    settings.EMAIL_TIMEOUT = 0.5
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as silent:
        # Connections complete in the listen queue; no greeting ever comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
        started = time.monotonic()
        with pytest.raises(ChannelError) as raised:
            send_email(to="pat@example.com", subject="Your appointment", text="Tue 6 PM")

    assert time.monotonic() - started < 5
    assert raised.value.retryable is True


# Console, file and in-memory backends -------------------------------------------------------------


def test_console_sms_writes_one_line_with_the_number_masked(settings, capsys):
    settings.SMS_BACKEND = "clinic.notifications.backends.ConsoleSMSBackend"

    result = send_sms(to=PHONE, text="Line one\nline two")

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert PHONE not in out
    assert "****4567" in out
    assert '"Line one\\nline two"' in out
    assert result.provider_message_id in out


def test_console_push_writes_one_line_with_the_token_masked(settings, capsys):
    settings.PUSH_BACKEND = "clinic.notifications.backends.ConsolePushBackend"

    send_push(token=DEVICE_TOKEN, platform="ios", title="Reminder", body="Tue 6 PM", data={"a": 1})

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert DEVICE_TOKEN[:-4] not in out
    assert "****WXYZ" in out
    assert "ios" in out
    assert '"Reminder"' in out


def test_the_console_backends_are_the_default(settings, capsys):
    del settings.SMS_BACKEND
    del settings.PUSH_BACKEND

    send_sms(to=PHONE, text=TEXT)
    send_push(token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue")

    assert capsys.readouterr().out.count("\n") == 2


def test_file_backends_append_json_lines(settings, tmp_path):
    settings.SMS_BACKEND = "clinic.notifications.backends.FileSMSBackend"
    settings.PUSH_BACKEND = "clinic.notifications.backends.FilePushBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "out" / "sms.jsonl")
    settings.PUSH_FILE_PATH = str(tmp_path / "out" / "push.jsonl")

    first = send_sms(to=PHONE, text=TEXT)
    send_sms(to="+15557654321", text="Second")
    push = send_push(
        token=DEVICE_TOKEN, platform="android", title="Reminder", body="Tue", data={"id": 7}
    )

    sms_lines = (tmp_path / "out" / "sms.jsonl").read_text().splitlines()
    assert [json.loads(line)["to"] for line in sms_lines] == [PHONE, "+15557654321"]
    assert json.loads(sms_lines[0])["text"] == TEXT
    assert json.loads(sms_lines[0])["id"] == first.provider_message_id
    [push_line] = (tmp_path / "out" / "push.jsonl").read_text().splitlines()
    assert json.loads(push_line) | {"sent_at": None} == {
        "id": push.provider_message_id,
        "sent_at": None,
        "token": DEVICE_TOKEN,
        "platform": "android",
        "title": "Reminder",
        "body": "Tue",
        "data": {"id": 7},
    }


def test_file_backend_defaults_under_local(settings):
    del settings.SMS_FILE_PATH
    backend = channel_backends.FileSMSBackend()

    assert backend.file.path == settings.BASE_DIR / ".local" / "sms.jsonl"


def test_locmem_backends_fill_the_outbox_and_clear_empties_it(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    settings.PUSH_BACKEND = "clinic.notifications.backends.LocmemPushBackend"
    outbox = channel_backends.outbox

    sms = send_sms(to=PHONE, text=TEXT)
    push = send_push(token=DEVICE_TOKEN, platform="ios", title="T", body="B", data={"k": "v"})

    assert [message.channel for message in outbox] == ["sms", "push"]
    assert channel_backends.sms_outbox() == [
        channel_backends.SentSMS(id=sms.provider_message_id, to=PHONE, text=TEXT)
    ]
    assert channel_backends.push_outbox() == [
        channel_backends.SentPush(
            id=push.provider_message_id,
            token=DEVICE_TOKEN,
            platform="ios",
            title="T",
            body="B",
            data={"k": "v"},
        )
    ]
    channel_backends.clear()
    assert channel_backends.outbox is outbox
    assert outbox == []


def test_the_locmem_email_backend_renders_each_message_and_keeps_a_copy(settings):
    settings.EMAIL_BACKEND = "clinic.notifications.backends.LocmemEmailBackend"
    mail.outbox = []

    result = send_email(to="rae@example.org", subject="Appointment reminder", text=TEXT)
    message = EmailMultiAlternatives(subject="S", body="B", to=["a@example.org"])
    message.attach_alternative("<p>B</p>", "text/html")
    assert get_connection().send_messages([message]) == 1
    message.to.append("b@example.org")
    message.alternatives.clear()

    first, second = mail.outbox
    assert (first.subject, first.body, first.to) == (
        "Appointment reminder",
        TEXT,
        ["rae@example.org"],
    )
    assert first.extra_headers["Message-ID"] == result.provider_message_id
    assert second.to == ["a@example.org"]
    assert len(second.alternatives) == 1
    # Rendered as by any e-mail backend: a header with a line break is refused.
    with pytest.raises(BadHeaderError):
        get_connection().send_messages(
            [
                EmailMultiAlternatives(
                    subject="S\nBcc: x@example.org", body="B", to=["a@example.org"]
                )
            ]
        )
    assert len(mail.outbox) == 2


def test_changing_the_setting_switches_the_backend(settings, capsys):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    send_sms(to=PHONE, text=TEXT)
    settings.SMS_BACKEND = "clinic.notifications.backends.ConsoleSMSBackend"
    send_sms(to=PHONE, text=TEXT)

    assert len(channel_backends.outbox) == 1
    assert capsys.readouterr().out.count("\n") == 1


def test_the_backend_is_built_once(settings):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    from clinic import notifications

    send_sms(to=PHONE, text=TEXT)
    backend = notifications._backends["sms"]
    send_sms(to=PHONE, text=TEXT)

    assert notifications._backends["sms"] is backend


# HTTP SMS (Twilio-style) --------------------------------------------------------------------------

SID = "AC0123456789abcdef0123456789abcdef"
MESSAGES_PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture
def http_sms(settings, fake_provider):
    settings.SMS_BACKEND = "clinic.notifications.backends.HTTPSMSBackend"
    settings.SMS_API_BASE_URL = fake_provider.url + "/"
    settings.SMS_ACCOUNT_SID = SID
    settings.SMS_AUTH_TOKEN = "sms-auth-token"
    settings.SMS_FROM_NUMBER = "+15550001111"
    settings.SMS_TIMEOUT_SECONDS = 2
    return fake_provider


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


# FCM HTTP v1 --------------------------------------------------------------------------------------

PROJECT = "continuum-test"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
SERVICE_ACCOUNT_EMAIL = "push@continuum-test.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fcm(settings, fake_provider, rsa_key, tmp_path):
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    service_account = tmp_path / "service-account.json"
    service_account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "test-key-1",
                "private_key": pem,
                "client_email": SERVICE_ACCOUNT_EMAIL,
                "client_id": "1234567890",
                "token_uri": f"{fake_provider.url}/token",
            }
        )
    )
    settings.PUSH_BACKEND = "clinic.notifications.backends.FCMPushBackend"
    settings.FCM_SERVICE_ACCOUNT_FILE = str(service_account)
    settings.FCM_API_BASE_URL = fake_provider.url
    settings.FCM_TIMEOUT_SECONDS = 2
    fake_provider.replies["/token"] = Reply(
        200, {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"}
    )
    return fake_provider


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


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


def fcm_invalid_argument(message: str, *details: dict) -> Reply:
    return Reply(
        400,
        {
            "error": {
                "code": 400,
                "message": message,
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "INVALID_ARGUMENT",
                    },
                    *details,
                ],
            }
        },
    )


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


# Inbound SMS webhook ------------------------------------------------------------------------------

WEBHOOK_URL = "https://clinic.example/api/v1/sms/inbound/?source=twilio"
INBOUND = {
    "MessageSid": "SM0001",
    "AccountSid": SID,
    "From": PHONE,
    "To": "+15550001111",
    "Body": "STOP",
}


def expected_signature(url: str, params: dict, token: str) -> str:
    """The documented scheme, written out: the URL, then each parameter's name and value in
    name order, HMAC-SHA1 with the auth token, base64."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(
        hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()


def test_webhook_signature_verifies_a_known_good_request():
    signature = expected_signature(WEBHOOK_URL, INBOUND, "sms-auth-token")

    assert verify_sms_signature(
        url=WEBHOOK_URL, params=INBOUND, signature=signature, auth_token="sms-auth-token"
    )


def test_webhook_signature_matches_the_providers_published_examples():
    # Twilio's own validator examples (auth token "12345"), the second with a repeated name.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    repeated = QueryDict("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234")

    assert verify_sms_signature(
        url=url, params=params, signature="RSOYDt4T1cUTdK1PDd93/VVr8B8=", auth_token="12345"
    )
    assert verify_sms_signature(
        url=url, params=repeated, signature="IK+Dwps556ElfBT0I3Rgjkr1wJU=", auth_token="12345"
    )


def test_webhook_signature_verifies_the_query_dict_of_a_request():
    signature = expected_signature(WEBHOOK_URL, INBOUND, "sms-auth-token")
    post = QueryDict(mutable=True)
    post.update(INBOUND)

    assert verify_sms_signature(
        url=WEBHOOK_URL, params=post, signature=signature, auth_token="sms-auth-token"
    )


def test_webhook_signature_accepts_the_url_with_or_without_its_default_port():
    with_port = "https://clinic.example:443/api/v1/sms/inbound/?source=twilio"
    signature = expected_signature(with_port, INBOUND, "sms-auth-token")

    assert verify_sms_signature(
        url=WEBHOOK_URL, params=INBOUND, signature=signature, auth_token="sms-auth-token"
    )


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        (WEBHOOK_URL, INBOUND | {"Body": "START"}, "sms-auth-token"),
        (WEBHOOK_URL, INBOUND | {"Extra": "1"}, "sms-auth-token"),
        ("https://clinic.example/api/v1/sms/inbound/", INBOUND, "sms-auth-token"),
        (WEBHOOK_URL, INBOUND, "another-token"),
    ],
)
def test_webhook_signature_rejects_a_tampered_request(url, params, token):
    signature = expected_signature(WEBHOOK_URL, INBOUND, "sms-auth-token")

    assert not verify_sms_signature(url=url, params=params, signature=signature, auth_token=token)


@pytest.mark.parametrize("signature", ["", "not-base64!", "ünïcode"])
def test_webhook_signature_rejects_garbage(signature):
    assert not verify_sms_signature(
        url=WEBHOOK_URL, params=INBOUND, signature=signature, auth_token="sms-auth-token"
    )


def test_parse_inbound_sms_reads_sender_and_body():
    assert parse_inbound_sms(INBOUND) == (PHONE, "STOP")

    with pytest.raises(ValueError, match="no sender"):
        parse_inbound_sms({"Body": "STOP"})


@pytest.mark.parametrize("body", ["STOP", " stop\n", "Unsubscribe", "QUIT", "stopall"])
def test_stop_words_opt_out(body):
    assert is_opt_out(body)
    assert not is_opt_in(body)


@pytest.mark.parametrize("body", ["Please stop", "STOP it", "Yes", ""])
def test_other_texts_do_not_opt_out(body):
    assert not is_opt_out(body)


def test_start_opts_back_in():
    assert is_opt_in("start")


# The reminders' e-mail: its rendering reuses the shared part of a message with the same text.

RENDER_CASES = [
    ("Appointment reminder: Maple Street", "Reminder: you have an appointment on Tuesday."),
    ("Rendez-vous : Clinique Étoile", "Rappel : vous avez un rendez-vous à 18 h, salle « B »."),
    ("A subject " * 12, ("A long line of text that goes on " * 20).strip()),
    ("Line breaks", "First line\nSecond line\n\nAfter a blank line\n"),
    ("Empty", ""),
    ("Windows line ends", "One\r\nTwo\r\n"),
    # A line over 998 bytes: Django switches to quoted-printable (TextEmail takes its path).
    ("Long line", "word " * 250),
    ("Long line, not the first", "Short\n" + "é" * 600 + "\nShort again"),
    ("Nearly long", "é" * 499),
]


@pytest.mark.parametrize(("subject", "body"), RENDER_CASES)
@pytest.mark.parametrize("localtime", [False, True])
def test_text_email_renders_what_djangos_email_message_renders(settings, subject, body, localtime):
    import time_machine
    from django.core.mail import EmailMessage

    from clinic.notifications import TextEmail

    settings.DEFAULT_FROM_EMAIL = "Clinique Étoile <rappels@clinic.example>"
    settings.EMAIL_USE_LOCALTIME = localtime
    with time_machine.travel("2026-11-23 07:30:00+00:00", tick=False):
        for n, to in enumerate(["pat@example.com", "Zoë Doe <zoe@example.org>", "ann@example.net"]):
            headers = {"Message-ID": f"<{n}.reminder@clinic.example>"}
            ours = TextEmail(subject=subject, body=body, to=[to], headers=headers).message()
            django = EmailMessage(subject=subject, body=body, to=[to], headers=headers).message()
            assert ours.as_bytes() == django.as_bytes()
            assert ours.items() == django.items()
        # Without a Message-ID of its own, one is made as Django makes it.
        made = TextEmail(subject=subject, body=body, to=["pat@example.com"]).message()
        assert made["Message-ID"].startswith("<")
        assert made["Date"] == django["Date"]


def test_text_email_headers_are_checked_and_encoded_as_django_does(settings):
    # Headers of ASCII on one line are written straight in: anything else goes through Django.
    import time_machine
    from django.core.mail import BadHeaderError, EmailMessage

    from clinic.notifications import TextEmail

    with time_machine.travel("2026-11-23 07:30:00+00:00", tick=False):
        for headers in [
            {"Message-ID": "<1@clinic.example>", "X-Note": "Café"},
            {"Message-ID": "<2@clinic.example>", "To": "Zoë <zoe@example.org>"},
            {"Message-ID": "<3@clinic.example>", "Subject": "A second subject " * 8},
            {"Message-ID": "<4@clinic.example>", "X-Number": 7},
            {"Message-ID": "<5@clinic.example>", "Date": "Mon, 23 Nov 2026 07:30:00 -0000"},
        ]:
            args = {"subject": "S", "body": "B", "to": ["a@example.com"], "headers": headers}
            ours, django = TextEmail(**args).message(), EmailMessage(**args).message()
            assert ours.as_bytes() == django.as_bytes(), headers
            assert ours.items() == django.items()
        for bad in [
            {"to": ["a@example.com\nBcc: b@example.com"]},
            {"to": ["a@example.com"], "headers": {"X-Note": "one\r\nBcc: b@example.com"}},
            {"to": ["a@example.com"], "headers": {"Message-ID": "<1@x>\nBcc: b@example.com"}},
        ]:
            with pytest.raises(BadHeaderError):
                EmailMessage(subject="S", body="B", **bad).message()
            with pytest.raises(BadHeaderError):
                TextEmail(subject="S", body="B", **bad).message()


def test_text_emails_of_one_text_do_not_share_their_recipients(mailoutbox):
    for to in ["one@example.com", "two@example.com"]:
        send_email(to=to, subject="Appointment reminder", text="Same text for both")

    first, second = (message.message() for message in mailoutbox)
    assert first.get_all("To") == ["one@example.com"]
    assert second.get_all("To") == ["two@example.com"]
    assert first["Message-ID"] != second["Message-ID"]
    assert first.get_payload() == second.get_payload() == "Same text for both"


def test_text_email_with_what_it_does_not_handle_takes_djangos_path(settings):
    import time_machine
    from django.core.mail import EmailMessage

    from clinic.notifications import TextEmail

    extra = {"cc": ["cc@example.com"], "reply_to": ["desk@example.com"]}
    with time_machine.travel("2026-11-23 07:30:00+00:00", tick=False):
        headers = {"Message-ID": "<1@clinic.example>", "From": "Desk <desk@clinic.example>"}
        ours = TextEmail(subject="S", body="B", to=["a@example.com"], headers=headers, **extra)
        django = EmailMessage(subject="S", body="B", to=["a@example.com"], headers=headers, **extra)
        assert ours.message().as_bytes() == django.message().as_bytes()


def test_text_emails_of_many_texts_render_as_django_renders_each(settings):
    # The shell of one subject serves every text: each message still equals Django's.
    import time_machine
    from django.core.mail import EmailMessage

    from clinic.notifications import TextEmail

    texts = [f"Reminder: appointment on day {n} at {n % 12 + 1}:00." for n in range(30)]
    texts += [f"Rappel : rendez-vous le {n} à {n % 12 + 1} h." for n in range(30)]
    for charset in ["utf-8", "iso-8859-1"]:
        settings.DEFAULT_CHARSET = charset
        with time_machine.travel("2026-11-23 07:30:00+00:00", tick=False):
            for n, text in enumerate(texts):
                headers = {"Message-ID": f"<{n}@clinic.example>"}
                args = {"subject": "Appointment reminder", "body": text, "to": ["a@example.com"]}
                ours = TextEmail(**args, headers=headers).message()
                django = EmailMessage(**args, headers=headers).message()
                assert ours.as_bytes() == django.as_bytes(), (charset, text)


class CountingEmailBackend(BaseEmailBackend):
    """Records opens, closes and sends; ``fail_on`` makes that message's send drop the line."""

    events: list[str] = []
    fail_on: str = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connected = False

    def open(self):
        if self.connected:
            return False
        self.connected = True
        CountingEmailBackend.events.append("open")
        return True

    def close(self):
        if self.connected:
            CountingEmailBackend.events.append("close")
        self.connected = False

    def send_messages(self, email_messages):
        new = self.open()
        for message in email_messages:
            if message.to[0] == CountingEmailBackend.fail_on:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            CountingEmailBackend.events.append("send " + message.to[0])
        if new:
            self.close()
        return len(email_messages)


def test_emails_through_one_connection_share_its_session_until_a_failure(settings, monkeypatch):
    from clinic.notifications import close_email_connection, email_connection

    settings.EMAIL_BACKEND = f"{__name__}.CountingEmailBackend"
    monkeypatch.setattr(CountingEmailBackend, "events", [])
    monkeypatch.setattr(CountingEmailBackend, "fail_on", "c@example.com")
    connection = email_connection()
    assert CountingEmailBackend.events == []  # built, not connected
    for to in ["a@example.com", "b@example.com"]:
        send_email(to=to, subject="S", text="T", connection=connection)
    with pytest.raises(ChannelError) as dropped:
        send_email(to="c@example.com", subject="S", text="T", connection=connection)
    assert dropped.value.retryable
    send_email(to="d@example.com", subject="S", text="T", connection=connection)
    close_email_connection(connection)
    close_email_connection(connection)  # closing twice is harmless

    # One session for a and b; the failure closes it; d opens the next one.
    assert CountingEmailBackend.events == [
        "open",
        "send a@example.com",
        "send b@example.com",
        "close",
        "open",
        "send d@example.com",
        "close",
    ]


def test_without_a_connection_each_email_has_its_own_session(settings, monkeypatch):
    settings.EMAIL_BACKEND = f"{__name__}.CountingEmailBackend"
    monkeypatch.setattr(CountingEmailBackend, "events", [])
    for to in ["a@example.com", "b@example.com"]:
        send_email(to=to, subject="S", text="T")
    assert CountingEmailBackend.events == [
        "open",
        "send a@example.com",
        "close",
        "open",
        "send b@example.com",
        "close",
    ]
