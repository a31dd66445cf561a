"""Refresh tokens die with the password or the account, a sign-in's chain of them has an
absolute end, and a reused rotated token voids its chain (clinic.services.tokens, clinic.signals,
issue 19 item 3). Through ``POST /api/v1/auth/token/refresh/``."""

import datetime

import pytest
import time_machine
from django.contrib.auth.forms import SetPasswordForm
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from clinic.models import AuditEvent
from tests.clinic.test_tokens import PASSWORD, anonymous, bearer, refresh, sign_in
from tests.clinic.test_tokens import user as user  # the fixture
from tests.factories import UserFactory, admin_login, totp_code, totp_device

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-password-7"
SIGN_IN = datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.UTC)


def days_after_sign_in(days, minutes=0):
    return time_machine.travel(SIGN_IN + datetime.timedelta(days=days, minutes=minutes), tick=False)


def live_tokens(user):
    return OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)


def assert_signed_out(tokens):
    with_access = bearer(tokens["access"]).get("/api/v1/clinics/")
    assert with_access.status_code == 401
    renewed = refresh(tokens["refresh"])
    assert renewed.status_code == 401
    assert set(renewed.json()) == {"code", "detail", "fields"}


# A password change or a disabled account ----------------------------------------------------------


def test_a_password_set_and_saved_voids_every_token_of_the_user(user):
    with days_after_sign_in(0):
        phone, laptop = sign_in(user), sign_in(user)
        rotated = refresh(phone["refresh"]).json()
        someone_else = UserFactory(password=PASSWORD)
        theirs = sign_in(someone_else)

        user.set_password(NEW_PASSWORD)
        user.save()

        assert not live_tokens(user).exists()
        assert_signed_out(laptop)
        assert_signed_out(rotated)
        # Other accounts keep theirs.
        assert refresh(theirs["refresh"]).status_code == 200
    # The new password signs in (a minute on: the authenticator shows a new code).
    with days_after_sign_in(0, minutes=1):
        again = anonymous().post(
            "/api/v1/auth/token/",
            {
                "username": user.username,
                "password": NEW_PASSWORD,
                "otp": totp_code(totp_device(user)),
            },
        )
        assert again.status_code == 200
        assert refresh(again.json()["refresh"]).status_code == 200


def test_a_password_changed_in_the_admin_voids_every_token(user, client):
    with days_after_sign_in(0):
        tokens = sign_in(user)
        admin_login(client, UserFactory(is_staff=True, is_superuser=True))

        response = client.post(
            f"/admin/auth/user/{user.pk}/password/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )

        assert response.status_code == 302, response.content
        assert_signed_out(tokens)


def test_a_password_reset_voids_every_token(user):
    with days_after_sign_in(0):
        tokens = sign_in(user)
        # What Django's password-reset confirmation does with the new password.
        form = SetPasswordForm(user, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert form.is_valid(), form.errors

        form.save()

        assert_signed_out(tokens)


def test_tokens_of_a_disabled_account_stay_void_when_it_is_enabled_again(user):
    with days_after_sign_in(0):
        tokens = sign_in(user)

        user.is_active = False
        user.save()
        user.is_active = True
        user.save()

        assert not live_tokens(user).exists()
        # (Its access tokens were refused while it was disabled and live out their minutes.)
        assert refresh(tokens["refresh"]).status_code == 401


def test_a_save_that_changes_neither_keeps_the_tokens(user):
    with days_after_sign_in(0):
        tokens = sign_in(user)

        user.first_name = "Renamed"
        user.save()

        assert refresh(tokens["refresh"]).status_code == 200


# The chain's absolute end -------------------------------------------------------------------------


def test_a_chain_ends_thirty_days_after_its_sign_in_however_often_it_is_refreshed(user):
    with days_after_sign_in(0):
        token = sign_in(user)["refresh"]
    # Each refresh within the 14-day window of the token before it.
    for day in (10, 20, 29):
        with days_after_sign_in(day):
            response = refresh(token)
            assert response.status_code == 200, day
            token = response.json()["refresh"]

    with days_after_sign_in(30, minutes=1):
        # The last token is a day old, well within its own 14 days.
        ended = refresh(token)
        assert ended.status_code == 401
        assert ended.json()["code"] == "token_not_valid"
        # Signing in again starts a new chain.
        assert refresh(sign_in(user)["refresh"]).status_code == 200


def test_a_rotated_token_expires_no_later_than_its_chain(user):
    with days_after_sign_in(0):
        token = sign_in(user)["refresh"]
    with days_after_sign_in(10):
        token = refresh(token).json()["refresh"]
    with days_after_sign_in(20):
        assert refresh(token).status_code == 200

    newest = OutstandingToken.objects.filter(user=user).latest("created_at")
    assert newest.expires_at == SIGN_IN + datetime.timedelta(days=30)


def test_the_chain_limit_comes_from_the_environment_setting(user, settings):
    settings.JWT_REFRESH_MAX_DAYS = 5
    with days_after_sign_in(0):
        token = sign_in(user)["refresh"]
    with days_after_sign_in(4):
        token = refresh(token).json()["refresh"]
    with days_after_sign_in(5):
        assert refresh(token).status_code == 401


# Reuse means theft --------------------------------------------------------------------------------


def test_reusing_a_rotated_token_voids_its_whole_chain(user):
    with days_after_sign_in(0):
        stolen = sign_in(user)
        laptop = sign_in(user)
        owners = refresh(stolen["refresh"]).json()
        owners = refresh(owners["refresh"]).json()

    with days_after_sign_in(0, minutes=5):
        reused = refresh(stolen["refresh"])

        assert reused.status_code == 401
        assert reused.json()["code"] == "token_not_valid"
        # The chain's live token is void too: neither the thief nor the owner can go on.
        assert refresh(owners["refresh"]).status_code == 401
        # Another sign-in's chain is not touched.
        assert refresh(laptop["refresh"]).status_code == 200
        assert AuditEvent.objects.filter(object_type="auth.user", object_id=str(user.pk)).exists()


def test_a_token_of_an_ended_chain_is_refused_without_a_theft_record(user):
    with days_after_sign_in(0):
        tokens = sign_in(user)
        anonymous().post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]})

        assert refresh(tokens["refresh"]).status_code == 401

        assert not AuditEvent.objects.filter(object_type="auth.user").exists()


def test_reusing_a_token_from_the_middle_of_the_chain_voids_it_too(user):
    with days_after_sign_in(0):
        first = sign_in(user)
        second = refresh(first["refresh"]).json()
        third = refresh(second["refresh"]).json()

        assert refresh(second["refresh"]).status_code == 401

        assert refresh(third["refresh"]).status_code == 401
        assert not live_tokens(user).exists()
