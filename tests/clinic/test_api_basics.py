"""The API's outer contract: auth, pagination, scoping, schema (DESIGN.md)."""

import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.throttling import ScopedRateThrottle

from tests.factories import ClinicFactory, UserFactory, staff_user, totp_code, totp_device

pytestmark = pytest.mark.django_db


def test_token_obtain_and_refresh(api_client, clinician):
    clinician.set_password("a-good-long-password")
    clinician.save()

    tokens = api_client.post(
        "/api/v1/auth/token/",
        {
            "username": clinician.username,
            "password": "a-good-long-password",
            "otp": totp_code(totp_device(clinician)),
        },
    )
    assert tokens.status_code == 200
    assert set(tokens.json()) >= {"access", "refresh"}

    refreshed = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": tokens.json()["refresh"]}
    )
    assert refreshed.status_code == 200

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert api_client.get("/api/v1/clinics/").status_code == 200


def test_wrong_password_is_401_with_the_error_body(api_client, clinician):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": clinician.username, "password": "wrong"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_login_has_its_own_throttle(api_client, monkeypatch, clinician):
    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/minute"})

    codes = [
        api_client.post(
            "/api/v1/auth/token/", {"username": clinician.username, "password": "x"}
        ).status_code
        for _ in range(4)
    ]

    assert codes == [401, 401, 401, 429]


def test_staff_see_only_their_clinics(client_for, clinic, other_clinic):
    both = staff_user(role="clinician", clinics=[clinic, other_clinic])
    one = staff_user(role="clinician", clinics=[clinic])

    assert {c["id"] for c in client_for(both).get("/api/v1/clinics/").json()["results"]} == {
        clinic.pk,
        other_clinic.pk,
    }
    assert [c["id"] for c in client_for(one).get("/api/v1/clinics/").json()["results"]] == [
        clinic.pk
    ]


def test_clinic_shape(client_for, clinician, clinic):
    body = client_for(clinician).get(f"/api/v1/clinics/{clinic.pk}/").json()

    assert body == {
        "id": clinic.pk,
        "name": clinic.name,
        "public_name": clinic.public_name,
        "time_zone": "America/New_York",
        "crisis_text": clinic.crisis_text,
    }


def test_lists_are_paginated_with_page_size_capped_at_200(client_for):
    clinics = ClinicFactory.create_batch(205)
    user = staff_user(role="supervisor", clinics=clinics)
    client = client_for(user)

    default = client.get("/api/v1/clinics/").json()
    small = client.get("/api/v1/clinics/?page_size=10").json()
    huge = client.get("/api/v1/clinics/?page_size=1000").json()

    assert set(default) == {"next", "previous", "results"}
    assert len(default["results"]) == 50
    assert default["previous"] is None
    assert "page=2" in default["next"]
    assert len(small["results"]) == 10
    assert len(huge["results"]) == 200


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_clinic_list_query_count_does_not_grow_with_the_page(
    client_for, django_assert_max_num_queries, page_size
):
    clinics = ClinicFactory.create_batch(200)
    user = staff_user(role="supervisor", clinics=clinics)
    client = client_for(user)

    # roles, memberships, count, page
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/v1/clinics/?page_size={page_size}")
    assert len(response.json()["results"]) == page_size


def test_schema_and_docs_are_public_and_list_the_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/clinics/", "/api/v1/auth/token/", "/api/v1/auth/token/refresh/"} <= set(paths)
    assert docs.status_code == 200
    # Swagger UI is served from our static files, never a CDN (there is no internet).
    assert b"cdn.jsdelivr" not in docs.content
    assert b"/static/drf_spectacular_sidecar/" in docs.content


def test_clinic_time_zone_must_be_an_iana_name(clinic):
    clinic.time_zone = "Mars/Olympus_Mons"

    with pytest.raises(ValidationError) as error:
        clinic.full_clean()

    assert "time_zone" in error.value.message_dict


def test_a_user_without_membership_sees_no_clinic(client_for, clinic):
    user = staff_user(role="clinician")

    assert client_for(user).get("/api/v1/clinics/").json()["results"] == []


def test_superuser_sees_every_clinic(client_for, clinic, other_clinic):
    root = UserFactory(is_superuser=True)

    ids = {c["id"] for c in client_for(root).get("/api/v1/clinics/").json()["results"]}

    assert ids == {clinic.pk, other_clinic.pk}


def test_the_schema_generates_without_warnings_and_validates():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
