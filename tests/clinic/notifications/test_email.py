"""E-mail: text with an HTML alternative, failures that say whether to retry, the mail server's
timeout."""

import smtplib
import socket
import time

import pytest

from clinic.notifications import ChannelError, send_email
from tests.clinic.notifications.helpers import RefusingEmailBackend, assert_private

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
