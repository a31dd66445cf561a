"""The reminders' e-mail: rendered as Django renders it, sharing the part of a message with the same
text, one connection per batch."""

import pytest
from django.core.mail import BadHeaderError

from clinic.notifications import ChannelError, send_email
from tests.clinic.notifications.helpers import RENDER_CASES, CountingEmailBackend


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
    from django.core.mail import EmailMessage

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
