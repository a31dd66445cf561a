"""The console, file and in-memory SMS and push backends, and the setting that picks one."""

import json

import pytest
from django.core import mail
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection

from clinic.notifications import backends as channel_backends
from clinic.notifications import send_email, send_push, send_sms
from tests.clinic.notifications.helpers import DEVICE_TOKEN, PHONE, TEXT

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
