"""Notification channels: the one way every app sends email, SMS and push.

Email goes through Django's email framework (``EMAIL_BACKEND``); SMS and push go through the
backend classes named by ``SMS_BACKEND`` and ``PUSH_BACKEND`` (see ``backends.py``). A failed
delivery raises ``ChannelError``, whose ``retryable`` tells the caller whether trying again
later can help. Errors are stored and logged, so their ``detail`` never carries the message,
the phone number, the address or the device token (42 CFR Part 2: a reminder must not reveal
treatment, and an error log is a disclosure too).
"""

import functools
import logging
import smtplib
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import SafeMIMEText
from django.core.mail.utils import DNS_NAME
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

DEFAULT_SMS_BACKEND = "clinic.notifications.backends.ConsoleSMSBackend"
DEFAULT_PUSH_BACKEND = "clinic.notifications.backends.ConsolePushBackend"


@dataclass(frozen=True)
class DeliveryResult:
    """A message the channel accepted; the id is the provider's (or the Message-ID header)."""

    provider_message_id: str


class ChannelError(Exception):
    """A message the channel did not accept.

    ``retryable``: a network error, a timeout, HTTP 429 or 5xx (trying later may work), as
    opposed to a refusal of this message (an invalid number, an unregistered device token).
    ``code``: the provider's machine-readable reason when it gave one (``"UNREGISTERED"``,
    ``"21211"``), so a caller can, say, forget a dead device token.
    ``detail``: one sentence for the logs, without any message content or recipient.
    """

    def __init__(self, detail: str, *, retryable: bool, code: str = ""):
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.code = code

    def __repr__(self):
        return f"ChannelError({self.detail!r}, retryable={self.retryable!r}, code={self.code!r})"


# Backend instances, built on first use from the dotted path in settings and kept: the push
# backend holds an OAuth access token that is worth reusing for its hour of validity.
_backends: dict[str, object] = {}
_backends_lock = threading.Lock()
_BACKEND_SETTINGS = {
    "sms": ("SMS_BACKEND", DEFAULT_SMS_BACKEND),
    "push": ("PUSH_BACKEND", DEFAULT_PUSH_BACKEND),
}
# Settings the backends read when they are built: changing any of them rebuilds the backends.
_RESET_PREFIXES = ("SMS_", "PUSH_", "FCM_")


def _backend(kind: str):
    backend = _backends.get(kind)
    if backend is None:
        name, default = _BACKEND_SETTINGS[kind]
        with _backends_lock:
            backend = _backends.get(kind)
            if backend is None:
                backend = import_string(getattr(settings, name, default))()
                _backends[kind] = backend
    return backend


def reset_backends() -> None:
    """Forget the built backends; the next send builds them again from settings."""
    with _backends_lock:
        _backends.clear()


@receiver(setting_changed)
def _reset_on_setting_changed(*, setting, **kwargs):
    # Lets tests override SMS_BACKEND / PUSH_BACKEND and the providers' settings.
    if setting.startswith(_RESET_PREFIXES):
        reset_backends()


# Django's SafeMIMEText encodes a UTF-8 text as it is (7bit or 8bit) unless a line is longer than
# this (then quoted-printable): the shells below stand for the first case only.
_LONGEST_LINE = 998


@functools.lru_cache(maxsize=256)
def _text_shell(subject: str, from_email: str, ascii_text: bool) -> SafeMIMEText:
    """What ``EmailMessage.message()`` builds for a plain UTF-8 text, up to and including the
    Subject and From headers, with a stand-in text: the content headers depend on the text only
    through whether it is ASCII (``Content-Transfer-Encoding: 7bit`` or ``8bit``). Never changed
    once built; each message gets a copy with its own text and headers."""
    part = SafeMIMEText("text" if ascii_text else "t\u00e9xt", "plain", "utf-8")
    part["Subject"] = subject
    part["From"] = from_email
    return part


def _copy_of(part: SafeMIMEText, payload: str) -> SafeMIMEText:
    """``part`` with its own header list and ``payload``: building a part (the charset's header
    and body encoding) is most of the cost of rendering a short e-mail. The stdlib message keeps
    its headers in ``_headers`` and its text in ``_payload``; tests compare the result with
    Django's, byte for byte."""
    message = object.__new__(type(part))  # as copy.copy() does, without its generic steps
    message.__dict__.update(part.__dict__)
    message._headers = list(part._headers)
    message._payload = payload
    return message


_last_date: tuple[int, bool, str] = (-1, False, "")


def _date_header(localtime: bool) -> str:
    """``formatdate(localtime=…)`` of now, computed once a second (it names whole seconds)."""
    global _last_date
    now = time.time()
    second, was_localtime, text = _last_date
    if second != int(now) or was_localtime != localtime:
        text = formatdate(now, localtime=localtime)
        _last_date = (int(now), localtime, text)
    return text


class TextEmail(EmailMultiAlternatives):
    """A plain-text UTF-8 e-mail whose rendering starts from a copy of a part built once per
    subject and sender (``_text_shell``) instead of building the MIME part anew: the reminders
    of a burst share a few subjects. ``message()`` returns what ``EmailMessage.message()`` would,
    header for header and byte for byte (tests/clinic/notifications/test_reminder_email.py
    compares them); anything it does not handle (Cc, Reply-To, alternatives, attachments,
    another From, another charset, a line long enough for quoted-printable) takes Django's own
    path."""

    def message(self):
        body = self.body
        if (
            self.cc
            or self.reply_to
            or self.alternatives
            or self.attachments
            or self.content_subtype != "plain"
            or (self.encoding or settings.DEFAULT_CHARSET) != "utf-8"
            or any(name.lower() == "from" for name in self.extra_headers)
            or not isinstance(body, str)
        ):
            return super().message()
        # What MIMEText.set_payload stores for a UTF-8 text (raises as it would on a lone
        # surrogate).
        payload = body.encode("utf-8").decode("ascii", "surrogateescape")
        if len(payload) > _LONGEST_LINE and any(
            len(line.encode(errors="surrogateescape")) > _LONGEST_LINE for line in body.splitlines()
        ):
            return super().message()
        msg = _copy_of(_text_shell(self.subject, self.from_email, body.isascii()), payload)
        # From here on as EmailMessage.message() does after Subject and From (its To header
        # written out: _set_list_header_if_not_empty() raises and catches a KeyError each time).
        if "To" in self.extra_headers:
            _set_header(msg, "To", self.extra_headers["To"])
        elif self.to:
            _set_header(msg, "To", ", ".join(str(v) for v in self.to))
        header_names = [key.lower() for key in self.extra_headers]
        if "date" not in header_names:
            _set_header(msg, "Date", _date_header(settings.EMAIL_USE_LOCALTIME))
        if "message-id" not in header_names:
            _set_header(msg, "Message-ID", make_msgid(domain=DNS_NAME))
        for name, value in self.extra_headers.items():
            if name.lower() not in {"from", "to", "cc", "reply-to"}:
                _set_header(msg, name, value)
        return msg


def _set_header(msg: SafeMIMEText, name: str, value) -> None:
    """``msg[name] = value``, written straight into the header list when Django's checks have
    nothing to do: a str of ASCII on one line, for any header but the Subject. (Django's
    ``SafeMIMEText`` refuses a line break, encodes a non-ASCII value and always the Subject, then
    the stdlib's compat32 policy stores the pair as given: ~0.7 µs a header, a fifth of a
    reminder e-mail's rendering.) Any other value takes Django's path."""
    if (
        type(value) is str
        and value.isascii()
        and "\n" not in value
        and "\r" not in value
        and name.lower() != "subject"
    ):
        msg._headers.append((name, value))
    else:
        msg[name] = value


def email_connection():
    """A connection of the e-mail backend to send many messages through (``send_email``'s
    ``connection``): with SMTP, one session for a group of reminders instead of one each. Built
    here without connecting (the first ``send_email`` connects); ``close_email_connection()``
    ends the session, and the next ``send_email`` through it opens a new one."""
    return get_connection()


def close_email_connection(connection) -> None:
    """Close ``connection`` (``email_connection()``); an error while closing is logged, not
    raised: the connection is dropped either way (the backend forgets it before raising)."""
    try:
        connection.close()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("The mail connection did not close cleanly (%s).", type(exc).__name__)


def send_email(
    *, to: str, subject: str, text: str, html: str | None = None, connection=None
) -> DeliveryResult:
    """Send one email (plain text, plus an HTML alternative when given) from
    ``DEFAULT_FROM_EMAIL`` through the configured ``EMAIL_BACKEND``, or through ``connection``
    (``email_connection()``), opened here if it is not open yet; after a mail server's refusal
    of the message or a lost connection it is closed, so the next message opens it anew (its
    owner closes it after any other error)."""
    # Set the Message-ID ourselves (as Django would) so that it can be returned as the id.
    message_id = make_msgid(domain=DNS_NAME)
    message = TextEmail(
        subject=subject,
        body=text,
        to=[to],
        headers={"Message-ID": message_id},
        connection=connection,
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    try:
        if connection is not None:
            # Opens it once (a no-op when open): send_messages() would otherwise open and close
            # it around each message.
            connection.open()
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        # Its message lists the refused addresses: keep only the server's reply codes.
        codes = sorted({code for code, _reply in exc.recipients.values()})
        raise ChannelError(
            f"The mail server refused the recipient (SMTP {', '.join(map(str, codes))}).",
            retryable=any(code < 500 for code in codes),
            code=str(codes[0]) if codes else "",
        ) from None
    except smtplib.SMTPResponseException as exc:
        _drop(connection)
        # 4xx replies are transient by definition (RFC 5321 §4.2.1), 5xx permanent.
        raise ChannelError(
            f"The mail server refused the message (SMTP {exc.smtp_code}).",
            retryable=exc.smtp_code < 500,
            code=str(exc.smtp_code),
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        _drop(connection)
        raise ChannelError(
            f"The mail server could not be reached ({type(exc).__name__}).", retryable=True
        ) from None
    logger.info("Email sent (%s).", message_id)
    return DeliveryResult(provider_message_id=message_id)


def _drop(connection) -> None:
    # A shared connection after a failed message: the next message opens a new session.
    if connection is not None:
        close_email_connection(connection)


def send_sms(*, to: str, text: str) -> DeliveryResult:
    """Send one text message through the backend named by ``SMS_BACKEND``."""
    backend = _backend("sms")
    result = backend.send(to, text)
    logger.info("SMS sent through %s (%s).", type(backend).__name__, result.provider_message_id)
    return result


def send_push(
    *, token: str, platform: str, title: str, body: str, data: dict | None = None
) -> DeliveryResult:
    """Send one push notification through the backend named by ``PUSH_BACKEND``."""
    backend = _backend("push")
    result = backend.send(token, platform, title, body, data)
    logger.info("Push sent through %s (%s).", type(backend).__name__, result.provider_message_id)
    return result


__all__ = [
    "ChannelError",
    "DeliveryResult",
    "TextEmail",
    "close_email_connection",
    "email_connection",
    "reset_backends",
    "send_email",
    "send_push",
    "send_sms",
]
