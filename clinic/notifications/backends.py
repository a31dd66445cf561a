"""SMS and push backends, one class per way of delivering; settings name the one in use.

``SMS_BACKEND`` / ``PUSH_BACKEND`` hold a dotted path to one of these classes (or any class
with the same ``send``). Console, file and in-memory backends serve development and tests;
``HTTPSMSBackend`` (a Twilio-style REST API) and ``FCMPushBackend`` (FCM HTTP v1) deliver for
real. A backend is built once, on first use, and reads its settings then.
"""

import copy
import functools
import json
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import requests
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from clinic.notifications import ChannelError, DeliveryResult

FCM_SCOPES = ["https://www.googleapis.com/auth/firebase.messaging"]


def mask(value: str) -> str:
    """Hide a phone number or device token but for its last four characters."""
    return "****" + value[-4:] if len(value) > 4 else "****"


class BaseSMSBackend:
    def send(self, to: str, text: str) -> DeliveryResult:
        """Deliver ``text`` to the E.164 number ``to``; raise ``ChannelError`` on failure."""
        raise NotImplementedError


class BasePushBackend:
    def send(
        self, token: str, platform: str, title: str, body: str, data: dict | None
    ) -> DeliveryResult:
        """Deliver a notification to the device ``token`` (``platform``: ``"android"``,
        ``"ios"``…); raise ``ChannelError`` on failure."""
        raise NotImplementedError


def _local_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# Console ------------------------------------------------------------------------------------------


class ConsoleSMSBackend(BaseSMSBackend):
    """One line on stdout per message, the number masked (development)."""

    def send(self, to, text):
        message_id = _local_id("console")
        # json.dumps keeps a multi-line text on one line.
        sys.stdout.write(f"[sms {message_id}] to {mask(to)}: {json.dumps(text)}\n")
        sys.stdout.flush()
        return DeliveryResult(provider_message_id=message_id)


class ConsolePushBackend(BasePushBackend):
    """One line on stdout per notification, the device token masked (development)."""

    def send(self, token, platform, title, body, data):
        message_id = _local_id("console")
        sys.stdout.write(
            f"[push {message_id}] to {platform} {mask(token)}: {json.dumps(title)} "
            f"{json.dumps(body)} {json.dumps(data or {}, sort_keys=True)}\n"
        )
        sys.stdout.flush()
        return DeliveryResult(provider_message_id=message_id)


# File ---------------------------------------------------------------------------------------------


class _JSONLinesFile:
    """Appends one JSON object per line; the directory is created on first write."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # One write per line in append mode: concurrent writers never interleave lines.
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(line)
        except OSError as exc:
            raise ChannelError(
                f"Could not write to the message file ({type(exc).__name__}).", retryable=True
            ) from None


def _local_file_path(name: str, default_filename: str) -> Path:
    return Path(
        getattr(settings, name, None) or Path(settings.BASE_DIR) / ".local" / default_filename
    )


class FileSMSBackend(BaseSMSBackend):
    """Appends each message as a JSON line to ``SMS_FILE_PATH`` (development)."""

    def __init__(self):
        self.file = _JSONLinesFile(_local_file_path("SMS_FILE_PATH", "sms.jsonl"))

    def send(self, to, text):
        message_id = _local_id("file")
        self.file.append(
            {"id": message_id, "sent_at": timezone.now().isoformat(), "to": to, "text": text}
        )
        return DeliveryResult(provider_message_id=message_id)


class FilePushBackend(BasePushBackend):
    """Appends each notification as a JSON line to ``PUSH_FILE_PATH`` (development)."""

    def __init__(self):
        self.file = _JSONLinesFile(_local_file_path("PUSH_FILE_PATH", "push.jsonl"))

    def send(self, token, platform, title, body, data):
        message_id = _local_id("file")
        self.file.append(
            {
                "id": message_id,
                "sent_at": timezone.now().isoformat(),
                "token": token,
                "platform": platform,
                "title": title,
                "body": body,
                "data": data or {},
            }
        )
        return DeliveryResult(provider_message_id=message_id)


# In memory (tests) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentSMS:
    channel: ClassVar[str] = "sms"
    id: str
    to: str
    text: str


@dataclass(frozen=True)
class SentPush:
    channel: ClassVar[str] = "push"
    id: str
    token: str
    platform: str
    title: str
    body: str
    data: dict = field(default_factory=dict)


# Every message the in-memory backends sent, oldest first, like django.core.mail.outbox. The
# list object is never replaced, so ``from clinic.notifications.backends import outbox`` stays
# valid; ``clear()`` empties it.
outbox: list[SentSMS | SentPush] = []


def clear() -> None:
    outbox.clear()


def sms_outbox() -> list[SentSMS]:
    return [message for message in outbox if message.channel == "sms"]


def push_outbox() -> list[SentPush]:
    return [message for message in outbox if message.channel == "push"]


class LocmemSMSBackend(BaseSMSBackend):
    """Appends each message to ``outbox`` (tests)."""

    def send(self, to, text):
        message = SentSMS(id=_local_id("locmem"), to=to, text=text)
        outbox.append(message)
        return DeliveryResult(provider_message_id=message.id)


class LocmemPushBackend(BasePushBackend):
    """Appends each notification to ``outbox`` (tests)."""

    def send(self, token, platform, title, body, data):
        message = SentPush(
            id=_local_id("locmem"),
            token=token,
            platform=platform,
            title=title,
            body=body,
            data=dict(data or {}),
        )
        outbox.append(message)
        return DeliveryResult(provider_message_id=message.id)


class LocmemEmailBackend(BaseEmailBackend):
    """Django's in-memory e-mail backend (``django.core.mail.outbox``, the same messages) without
    its deep copy of each message, which costs about as much as rendering it. Each message is
    still rendered (``message()``: header validation and MIME encoding, the work a real e-mail
    backend does per message); the outbox keeps a copy with its own recipient lists, headers,
    attachments and alternatives, so changing the sent message afterwards does not change it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(mail, "outbox"):
            mail.outbox = []

    def send_messages(self, messages):
        count = 0
        for message in messages:
            message.message()
            kept = copy.copy(message)
            for name in ("to", "cc", "bcc", "reply_to", "attachments", "alternatives"):
                if hasattr(message, name):
                    setattr(kept, name, list(getattr(message, name)))
            kept.extra_headers = dict(message.extra_headers)
            mail.outbox.append(kept)
            count += 1
        return count


# HTTP ---------------------------------------------------------------------------------------------

# Worth trying again later: the request may not have reached the provider, or the provider
# could not take it now. A read timeout is here too although the provider may have sent the
# message: a late duplicate reminder is better than a lost one.
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _post(provider: str, url: str, *, timeout: float, **kwargs) -> requests.Response:
    try:
        # No redirects: a provider API that redirects a POST is a misconfigured base URL.
        return requests.post(url, timeout=timeout, allow_redirects=False, **kwargs)
    except _TRANSIENT_ERRORS as exc:
        # The exception's text holds the URL; the class name says enough.
        raise ChannelError(
            f"{provider} could not be reached ({type(exc).__name__}).", retryable=True
        ) from None
    except requests.RequestException as exc:
        raise ChannelError(
            f"{provider} request could not be made ({type(exc).__name__}).", retryable=False
        ) from None


def _json_or_empty(response: requests.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _refused(provider: str, response: requests.Response, code: str) -> ChannelError:
    status = response.status_code
    retryable = status == 429 or status >= 500
    reason = f" ({code})" if code else ""
    return ChannelError(
        f"{provider} answered HTTP {status}{reason}.", retryable=retryable, code=code
    )


def _accepted_id(provider: str, response: requests.Response, key: str) -> str:
    message_id = _json_or_empty(response).get(key)
    if not isinstance(message_id, str) or not message_id:
        # The provider took the request, so it may well send the message: not retryable,
        # or a retry could send it twice.
        raise ChannelError(
            f"{provider} answered HTTP {response.status_code} without a message id.",
            retryable=False,
        )
    return message_id


def _required_setting(name: str) -> str:
    value = getattr(settings, name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set to send through this backend.")
    return value


class HTTPSMSBackend(BaseSMSBackend):
    """A Twilio-style Messages REST API.

    ``POST {SMS_API_BASE_URL}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json`` with HTTP
    basic auth (account SID, auth token) and the form fields ``To``, ``From``, ``Body``; the
    answer's ``sid`` is the message id.
    """

    provider = "The SMS provider"

    def __init__(self):
        self.account_sid = _required_setting("SMS_ACCOUNT_SID")
        self.auth_token = _required_setting("SMS_AUTH_TOKEN")
        self.from_number = _required_setting("SMS_FROM_NUMBER")
        base_url = getattr(settings, "SMS_API_BASE_URL", "https://api.twilio.com")
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        self.timeout = float(getattr(settings, "SMS_TIMEOUT_SECONDS", 10))

    def send(self, to, text):
        response = _post(
            self.provider,
            self.url,
            timeout=self.timeout,
            auth=(self.account_sid, self.auth_token),
            data={"To": to, "From": self.from_number, "Body": text},
        )
        if not response.ok:
            # Twilio's error body: {"code": 21211, "message": "... +1555... is not valid"}.
            # Only the numeric code is kept: the message names the number.
            code = _json_or_empty(response).get("code")
            raise _refused(self.provider, response, str(code) if isinstance(code, int) else "")
        return DeliveryResult(provider_message_id=_accepted_id(self.provider, response, "sid"))


class FCMPushBackend(BasePushBackend):
    """Firebase Cloud Messaging, HTTP v1 API.

    ``POST {FCM_API_BASE_URL}/v1/projects/{FCM_PROJECT_ID}/messages:send`` with
    ``{"message": {"token", "notification": {"title", "body"}, "data"}}`` and a bearer access
    token of the service account in ``FCM_SERVICE_ACCOUNT_FILE`` (google-auth signs the grant
    and posts it to the ``token_uri`` of that file); the answer's ``name`` is the message id.
    One message reaches Android and iOS devices alike, so ``platform`` is not sent.
    """

    provider = "FCM"

    def __init__(self):
        # Imported here: only deployments that push through FCM need google-auth.
        import google.auth.exceptions
        import google.auth.transport.requests
        from google.oauth2 import service_account

        self._auth_errors = google.auth.exceptions
        path = _required_setting("FCM_SERVICE_ACCOUNT_FILE")
        try:
            self.credentials = service_account.Credentials.from_service_account_file(
                path, scopes=FCM_SCOPES
            )
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"FCM_SERVICE_ACCOUNT_FILE is not a readable service-account JSON file: {exc}"
            ) from exc
        project_id = getattr(settings, "FCM_PROJECT_ID", "") or self.credentials.project_id
        if not project_id:
            raise ImproperlyConfigured(
                "FCM_PROJECT_ID must be set (the service-account file names no project_id)."
            )
        base_url = getattr(settings, "FCM_API_BASE_URL", "https://fcm.googleapis.com")
        self.url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self.timeout = float(getattr(settings, "FCM_TIMEOUT_SECONDS", 10))
        # google-auth's transport waits 120 s by default; ours waits as long as a send does.
        self._token_request = functools.partial(
            google.auth.transport.requests.Request(), timeout=self.timeout
        )
        self._token_lock = threading.Lock()

    def _access_token(self) -> str:
        # The token lives an hour; one refresh at a time, and only when it has (nearly)
        # expired. refresh() is called directly rather than through before_request(), which
        # would also start google-auth's background lookups of other Google endpoints.
        with self._token_lock:
            if not self.credentials.valid:
                try:
                    self.credentials.refresh(self._token_request)
                except self._auth_errors.TransportError as exc:
                    raise ChannelError(
                        f"FCM access token could not be fetched ({type(exc).__name__}).",
                        retryable=True,
                    ) from None
                except self._auth_errors.GoogleAuthError as exc:
                    # An OAuth error such as "invalid_grant: Invalid JWT Signature." is about
                    # the service account, never about a patient.
                    reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
                    raise ChannelError(
                        "FCM access token refresh failed"
                        + (f" ({reason[:200]})." if reason else "."),
                        retryable=exc.retryable,
                    ) from None
            return self.credentials.token

    def send(self, token, platform, title, body, data):
        message = {"token": token, "notification": {"title": title, "body": body}}
        if data:
            # FCM carries data as a map of strings.
            message["data"] = {str(key): str(value) for key, value in data.items()}
        response = _post(
            self.provider,
            self.url,
            timeout=self.timeout,
            json={"message": message},
            headers={"Authorization": f"Bearer {self._access_token()}"},
        )
        if not response.ok:
            raise _refused(self.provider, response, _fcm_error_code(response))
        return DeliveryResult(provider_message_id=_accepted_id(self.provider, response, "name"))


def _fcm_error_code(response: requests.Response) -> str:
    """``UNREGISTERED``, ``INVALID_ARGUMENT``…: the FcmError code, else the status.

    ``INVALID_TOKEN`` for an INVALID_ARGUMENT that FCM pins on the token (a field violation of
    ``message.token``, or its message "The registration token is not a valid FCM registration
    token"): that token will never work, whereas other invalid arguments (a payload FCM refuses)
    say nothing about the device."""
    error = _json_or_empty(response).get("error")
    if not isinstance(error, dict):
        return ""
    details = [detail for detail in error.get("details") or [] if isinstance(detail, dict)]
    code = next(
        (detail["errorCode"] for detail in details if isinstance(detail.get("errorCode"), str)),
        None,
    )
    if code is None:
        status = error.get("status")
        code = status if isinstance(status, str) else ""
    if code == "INVALID_ARGUMENT" and _fcm_blames_the_token(error, details):
        return "INVALID_TOKEN"
    return code


def _fcm_blames_the_token(error: dict, details: list[dict]) -> bool:
    for detail in details:
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    message = error.get("message")
    return isinstance(message, str) and "registration token" in message.lower()
