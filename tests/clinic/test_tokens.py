"""Tokens: rotation with a blacklist, logout, disabled accounts, throttles that a forged
X-Forwarded-For cannot dodge (DESIGN.md "API outer contract", issue 7)."""

import datetime
import random
import threading
import time

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from clinic.models import ClinicMembership
from tests.factories import staff_user, totp_code, totp_device

pytestmark = pytest.mark.django_db

PASSWORD = "a-good-long-password"


def fresh_address() -> str:
    """An address of the test's own: throttle counters live in the shared cache."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def anonymous(address=None):
    return APIClient(REMOTE_ADDR=address or fresh_address())


def bearer(access):
    client = anonymous()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def user(clinic):
    user = staff_user(role="clinician", clinics=[clinic])
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(user):
    response = anonymous().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD, "otp": totp_code(totp_device(user))},
    )
    assert response.status_code == 200
    return response.json()


def refresh(token):
    return anonymous().post("/api/v1/auth/token/refresh/", {"refresh": token})


# Rotation -----------------------------------------------------------------------------------------


def test_a_refresh_rotates_and_the_old_refresh_token_is_void(user):
    tokens = sign_in(user)

    first = refresh(tokens["refresh"])
    # The rotated token goes on working, once.
    second = refresh(first.json()["refresh"])
    reused = refresh(tokens["refresh"])

    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert first.json()["refresh"] != tokens["refresh"]
    assert second.status_code == 200
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"
    assert set(reused.json()) == {"code", "detail", "fields"}
    # (A reuse also voids the chain's live token: tests/clinic/test_token_lifetimes.py.)


def test_access_tokens_are_short_lived(user, settings):
    with time_machine.travel(datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)):
        tokens = sign_in(user)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 15, 14, tzinfo=datetime.UTC)):
        assert bearer(tokens["access"]).get("/api/v1/clinics/").status_code == 200
    with time_machine.travel(datetime.datetime(2026, 12, 1, 15, 16, tzinfo=datetime.UTC)):
        expired = bearer(tokens["access"]).get("/api/v1/clinics/")
        assert expired.status_code == 401
        assert expired.json()["code"] == "token_not_valid"
        # The refresh token gets a new one.
        renewed = refresh(tokens["refresh"])
        assert renewed.status_code == 200
        assert bearer(renewed.json()["access"]).get("/api/v1/clinics/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_give_one_new_pair(clinic, monkeypatch):
    blacklist = RefreshToken.blacklist

    def slow_blacklist(token):
        # Every request has checked the token before any blacklists it: only the insert of
        # the blacklist row can tell them apart.
        time.sleep(0.2)
        return blacklist(token)

    monkeypatch.setattr(RefreshToken, "blacklist", slow_blacklist)
    user = staff_user(role="clinician", clinics=[clinic])
    user.set_password(PASSWORD)
    user.save()
    token = sign_in(user)["refresh"]
    barrier = threading.Barrier(8)
    codes = []

    def attempt():
        try:
            client = anonymous()
            barrier.wait()
            codes.append(client.post("/api/v1/auth/token/refresh/", {"refresh": token}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200] + [401] * 7


# Logout -------------------------------------------------------------------------------------------


def test_logout_voids_the_refresh_token(user):
    tokens = sign_in(user)

    response = anonymous().post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]})

    assert response.status_code == 204
    assert refresh(tokens["refresh"]).status_code == 401
    # Logging out twice, or with something that is no token, is a 401 with the error body.
    twice = anonymous().post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]})
    assert (twice.status_code, twice.json()["code"]) == (401, "token_not_valid")
    garbage = anonymous().post("/api/v1/auth/logout/", {"refresh": "nonsense"})
    assert garbage.status_code == 401
    missing = anonymous().post("/api/v1/auth/logout/", {})
    assert (missing.status_code, list(missing.json()["fields"])) == (400, ["refresh"])


def test_logout_voids_only_that_session(user):
    phone, laptop = sign_in(user), sign_in(user)

    anonymous().post("/api/v1/auth/logout/", {"refresh": phone["refresh"]})

    assert refresh(laptop["refresh"]).status_code == 200


def test_an_access_token_is_no_refresh_token(user):
    tokens = sign_in(user)

    assert anonymous().post("/api/v1/auth/logout/", {"refresh": tokens["access"]}).status_code == (
        401
    )
    assert refresh(tokens["access"]).status_code == 401


# Disabled accounts --------------------------------------------------------------------------------


def test_a_disabled_account_is_refused_at_once(user):
    tokens = sign_in(user)
    assert bearer(tokens["access"]).get("/api/v1/clinics/").status_code == 200

    user.is_active = False
    user.save(update_fields=["is_active"])

    # simplejwt loads the user on every request (CHECK_USER_IS_ACTIVE): the access token, still
    # within its lifetime, no longer works.
    with_access = bearer(tokens["access"]).get("/api/v1/clinics/")
    assert with_access.status_code == 401
    assert with_access.json()["code"] == "authentication_failed"
    assert refresh(tokens["refresh"]).status_code == 401
    signin = anonymous().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    assert signin.status_code == 401


def test_a_deleted_account_is_refused(user):
    tokens = sign_in(user)
    ClinicMembership.objects.filter(user=user).delete()
    user.delete()

    assert bearer(tokens["access"]).get("/api/v1/clinics/").status_code == 401
    assert refresh(tokens["refresh"]).status_code == 401


# Throttles ----------------------------------------------------------------------------------------

THROTTLED = [
    ("login", "/api/v1/auth/token/", {"username": "nobody", "password": "wrong"}),
    (
        "activation",
        "/api/v1/auth/activate/",
        {
            "activation_code": "ABCD-EFGH-JKMN",
            "date_of_birth": "1980-01-01",
            "username": "someone-new",
            "password": "quiet-river-morning-42",
        },
    ),
]


@pytest.mark.parametrize(("scope", "path", "body"), THROTTLED, ids=[t[0] for t in THROTTLED])
def test_a_forged_forwarded_for_does_not_dodge_the_throttle(monkeypatch, scope, path, body):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {scope: "3/minute"})
    client = anonymous()

    codes = [
        client.post(path, body, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(5)
    ]

    assert codes[:3] == [codes[0]] * 3
    assert codes[0] in (400, 401)
    assert codes[3:] == [429, 429]
    # Another address has its own count.
    assert anonymous().post(path, body).status_code == codes[0]


@pytest.mark.parametrize(("scope", "path", "body"), THROTTLED, ids=[t[0] for t in THROTTLED])
def test_behind_one_proxy_only_the_address_it_adds_counts(settings, monkeypatch, scope, path, body):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {scope: "3/minute"})
    proxy = anonymous("192.0.2.1")
    client_address = fresh_address()

    # The client forges entries; the proxy appends the address it saw.
    codes = [
        proxy.post(path, body, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, {client_address}").status_code
        for n in range(4)
    ]

    assert codes[3] == 429
    assert 429 not in codes[:3]
    another = proxy.post(path, body, HTTP_X_FORWARDED_FOR=fresh_address())
    assert another.status_code != 429


def test_activation_is_throttled_with_its_own_scope(monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"activation": "2/minute", "login": "1000/minute"}
    )
    client = anonymous()
    body = THROTTLED[1][2]

    codes = [client.post("/api/v1/auth/activate/", body).status_code for _ in range(3)]
    login = client.post("/api/v1/auth/token/", {"username": "x", "password": "y"})

    assert codes == [400, 400, 429]
    assert login.status_code == 401
    throttled = client.post("/api/v1/auth/activate/", body)
    assert throttled.json()["code"] == "throttled"
    assert set(throttled.json()) == {"code", "detail", "fields"}


def test_the_daily_task_forgets_expired_refresh_tokens(user):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from clinic.tasks import tokens_flush_expired_task

    # A month ago: past the refresh tokens' 14 days (relative, so any real date will do).
    with time_machine.travel(timezone.now() - datetime.timedelta(days=30)):
        old = sign_in(user)
    current = sign_in(user)
    assert refresh(old["refresh"]).status_code == 401  # expired
    assert OutstandingToken.objects.filter(user=user).count() == 2

    tokens_flush_expired_task.delay()

    assert OutstandingToken.objects.filter(user=user).count() == 1
    assert refresh(current["refresh"]).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/auth/token/refresh/", {"refresh": "x" * 2001}, "refresh"),
        ("/api/v1/auth/logout/", {"refresh": "x" * 2001}, "refresh"),
        ("/api/v1/auth/token/", {"username": "x" * 151, "password": "y"}, "username"),
        ("/api/v1/auth/token/", {"username": "x", "password": "y" * 129}, "password"),
    ],
)
def test_token_inputs_are_bounded(path, body, field):
    response = anonymous().post(path, body)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
