"""What the modules of notifications/ share: constants and helpers."""

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

from django.core.mail.backends.base import BaseEmailBackend

from clinic.notifications import ChannelError

PHONE = "+15551234567"
TEXT = "Reminder: Maple Street Center, Tue 6:00 PM"
DEVICE_TOKEN = "fcm-device-token-0123456789abcdefWXYZ"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


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


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_private(error: ChannelError, *secrets: str) -> None:
    for text in (error.detail, str(error), repr(error)):
        for secret in secrets:
            assert secret not in text


class RefusingEmailBackend(BaseEmailBackend):
    """Raises ``refusal``, as the SMTP backend does on a server's answer."""

    refusal: Exception = smtplib.SMTPServerDisconnected("gone")

    def send_messages(self, email_messages):
        raise RefusingEmailBackend.refusal


# HTTP SMS (Twilio-style) --------------------------------------------------------------------------

SID = "AC0123456789abcdef0123456789abcdef"
MESSAGES_PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"


# FCM HTTP v1 --------------------------------------------------------------------------------------

PROJECT = "continuum-test"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
SERVICE_ACCOUNT_EMAIL = "push@continuum-test.iam.gserviceaccount.com"


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


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
