"""Staff sign-in (issue 19 item 2): the lockout after repeated failures (django-axes) on the
API's `auth/token/` and the admin's login form, and the second factor (a TOTP code, django-otp)
that staff give when `STAFF_MFA_REQUIRED` is on (the test settings run with DEBUG off, so on)."""

import datetime
import random

import pytest
import time_machine
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from tests.factories import (
    PatientFactory,
    admin_login,
    app_account,
    totp_code,
    totp_device,
)
from tests.test_settings import PRODUCTION_LIKE, manage

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
PASSWORD = "correct-horse-battery"  # UserFactory's
TOKEN = "/api/v1/auth/token/"
ADMIN_LOGIN = "/admin/login/"


def address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def sign_in(user_or_name, password=PASSWORD, *, at=None, **extra):
    username = getattr(user_or_name, "username", user_or_name)
    client = APIClient(REMOTE_ADDR=at or "10.9.8.7")
    return client.post(TOKEN, {"username": username, "password": password, **extra})


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == code
    return body


@pytest.fixture
def traveller():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff(clinician):
    totp_device(clinician)
    return clinician


# The second factor on the API -------------------------------------------------------------------


def test_staff_get_tokens_only_with_the_code_of_their_authenticator(staff, traveller):
    without = sign_in(staff)

    body = assert_error(without, 400, "otp_required")
    assert list(body["fields"]) == ["otp"]
    assert not OutstandingToken.objects.filter(user=staff).exists()

    signed_in = sign_in(staff, otp=totp_code(totp_device(staff)))
    assert signed_in.status_code == 200
    assert set(signed_in.json()) == {"access", "refresh"}


def test_a_wrong_or_reused_code_is_401_otp_invalid(staff, traveller):
    device = totp_device(staff)
    code = totp_code(device)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    assert_error(sign_in(staff, otp=wrong), 401, "otp_invalid")
    traveller.shift(datetime.timedelta(seconds=2))  # past the device's throttle of a wrong code
    assert sign_in(staff, otp=code).status_code == 200
    # A code works once: one seen over a shoulder is no use afterwards.
    assert_error(sign_in(staff, otp=code), 401, "otp_invalid")
    assert OutstandingToken.objects.filter(user=staff).count() == 1


def test_a_wrong_password_stays_401_with_or_without_a_code(staff, traveller):
    code = totp_code(totp_device(staff))

    assert_error(sign_in(staff, "wrong"), 401, "authentication_failed")
    assert_error(sign_in(staff, "wrong", otp=code), 401, "authentication_failed")
    assert_error(sign_in("nobody-here", "wrong"), 401, "authentication_failed")


def test_superusers_need_the_second_factor_too(traveller):
    root = get_user_model().objects.create_superuser("root-user", password=PASSWORD)

    assert_error(sign_in(root), 400, "otp_required")
    assert sign_in(root, otp=totp_code(totp_device(root))).status_code == 200


def test_a_patients_app_account_needs_no_code(clinic, admissions, traveller):
    user = app_account(PatientFactory(clinic=clinic, actor=admissions, first_name="Robin"))
    user.set_password(PASSWORD)
    user.save()

    assert sign_in(user).status_code == 200


def test_with_two_factor_off_staff_sign_in_with_the_password(staff, settings, traveller):
    settings.STAFF_MFA_REQUIRED = False

    assert sign_in(staff).status_code == 200


# The lockout on the API -------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_username_at_that_address(staff, traveller):
    codes = [sign_in(staff, f"wrong-{n}").status_code for n in range(5)]

    assert codes == [401, 401, 401, 401, 429]
    # Locked: even the right password and code get the lockout, never a token.
    locked = sign_in(staff, otp=totp_code(totp_device(staff)))
    body = assert_error(locked, 429, "locked_out")
    assert "15 minutes" in body["detail"]
    assert locked["Retry-After"] == "900"
    assert not OutstandingToken.objects.filter(user=staff).exists()


def test_the_lockout_holds_one_username_at_one_address(staff, clinic, traveller):
    from tests.factories import staff_user

    colleague = staff_user(role="clinician", clinics=[clinic])
    for n in range(5):
        sign_in(staff, f"wrong-{n}")

    # The owner from another address, and a colleague from the same one, still sign in.
    assert sign_in(staff, at=address(), otp=totp_code(totp_device(staff))).status_code == 200
    assert sign_in(colleague, otp=totp_code(totp_device(colleague))).status_code == 200


def test_the_lockout_ends_after_the_cool_off(staff, traveller):
    for n in range(5):
        sign_in(staff, f"wrong-{n}")
    traveller.shift(datetime.timedelta(minutes=14))
    assert_error(sign_in(staff, otp=totp_code(totp_device(staff))), 429, "locked_out")

    # A failure during the lockout starts the cool-off again; then 15 quiet minutes end it.
    traveller.shift(datetime.timedelta(minutes=15, seconds=1))
    assert sign_in(staff, otp=totp_code(totp_device(staff))).status_code == 200


def test_wrong_codes_count_toward_the_lockout(staff, traveller):
    device = totp_device(staff)
    answers = []
    for _ in range(5):
        wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
        answers.append(sign_in(staff, otp=wrong).json()["code"])
        traveller.shift(datetime.timedelta(seconds=20))  # past the device's own throttle

    assert answers == ["otp_invalid"] * 4 + ["locked_out"]
    assert_error(sign_in(staff, otp=totp_code(device)), 429, "locked_out")


def test_a_forged_forwarded_for_does_not_dodge_the_lockout(staff, traveller):
    client = APIClient(REMOTE_ADDR="10.9.8.7")
    codes = [
        client.post(
            TOKEN,
            {"username": staff.username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(6)
    ]

    assert codes == [401] * 4 + [429, 429]


def test_the_limit_and_the_cool_off_come_from_the_environment():
    code = (
        "from django.conf import settings; "
        "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME, "
        "settings.STAFF_MFA_REQUIRED, settings.SESSION_IDLE_MINUTES, settings.SESSION_COOKIE_AGE)"
    )

    def printed(**env):
        result = manage(
            "shell", "--no-imports", "-c", code, env_overrides={**PRODUCTION_LIKE, **env}
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert printed() == "5 0:15:00 True 15 43200"
    assert printed(
        AXES_FAILURE_LIMIT="3",
        AXES_COOLOFF_MINUTES="30",
        STAFF_MFA_REQUIRED="0",
        SESSION_IDLE_MINUTES="10",
        SESSION_MAX_HOURS="8",
    ) == ("3 0:30:00 False 10 28800")
    # Local development (DEBUG on) signs in without the second factor unless asked to.
    assert printed(DEBUG="1").split()[2] == "False"


# The admin's login form -------------------------------------------------------------------------


def admin_post(client, user, password=PASSWORD, otp=""):
    return client.post(
        ADMIN_LOGIN, {"username": user.username, "password": password, "otp_token": otp}
    )


@pytest.fixture
def admin_staff(staff):
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    return staff


def test_the_admin_login_asks_for_the_code_and_lets_in_with_it(client, admin_staff, traveller):
    form = client.get(ADMIN_LOGIN)
    assert b'name="otp_token"' in form.content

    without = admin_post(client, admin_staff)
    assert without.status_code == 200  # the form again, with its error
    assert client.get("/admin/").status_code == 302

    signed_in = admin_post(client, admin_staff, otp=totp_code(totp_device(admin_staff)))
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_admin_session_without_the_second_factor_is_not_let_in(client, admin_staff):
    client.force_login(admin_staff)  # signed in, but no code given

    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/clinics/").status_code == 401

    admin_login(client, admin_staff)
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/clinics/").status_code == 200


def test_the_admin_locks_out_after_wrong_passwords_with_the_error_body(
    client, admin_staff, traveller
):
    answers = [admin_post(client, admin_staff, "wrong").status_code for _ in range(5)]

    assert answers == [200, 200, 200, 200, 429]
    locked = admin_post(client, admin_staff, otp=totp_code(totp_device(admin_staff)))
    assert_error(locked, 429, "locked_out")
    assert locked["Retry-After"] == "900"
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_on_the_admin_count_toward_the_lockout(client, admin_staff, traveller):
    device = totp_device(admin_staff)
    answers = []
    for _ in range(5):
        wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
        answers.append(admin_post(client, admin_staff, otp=wrong).status_code)
        traveller.shift(datetime.timedelta(seconds=20))

    assert answers == [200, 200, 200, 200, 429]
    assert_error(admin_post(client, admin_staff, otp=totp_code(device)), 429, "locked_out")


# Enrolling an authenticator ---------------------------------------------------------------------


def test_the_enroll_command_gives_a_key_that_signs_in(clinician, traveller):
    import io
    import re
    from base64 import b32decode

    from django.core.management import CommandError, call_command
    from django_otp.oath import totp

    out = io.StringIO()
    call_command("staff_totp_enroll", clinician.username, stdout=out)
    key = re.search(r"key for \S+: ([A-Z2-7]+)", out.getvalue()).group(1)
    assert "otpauth://totp/Continuum%3A" in out.getvalue()

    code = f"{totp(b32decode(key)):06d}"
    assert sign_in(clinician, otp=code).status_code == 200

    with pytest.raises(CommandError, match="already has an authenticator"):
        call_command("staff_totp_enroll", clinician.username, stdout=io.StringIO())
    call_command("staff_totp_enroll", clinician.username, "--replace", stdout=io.StringIO())
    assert clinician.totpdevice_set.count() == 1
