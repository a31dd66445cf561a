"""A patient's phone registered for push over me/devices/: new, again, moved from another patient,
refused when malformed."""

import datetime

import pytest
import time_machine

from clinic.models import AuditAction
from scheduling import services
from scheduling.models import Device
from tests.scheduling.devices.helpers import (
    BASE,
    DEVICE_KEYS,
    NOW,
    device_audits,
    frozen,
    iso,
    register,
)

pytestmark = pytest.mark.django_db


# Registering --------------------------------------------------------------------------------------


@frozen
def test_a_new_device_is_registered_with_201(ana_client, ana):
    # when
    response = register(ana_client, "fcm-token-ana-1", "ios")

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == DEVICE_KEYS  # the token is never echoed back
    device = Device.objects.get()
    assert (body["id"], body["platform"]) == (device.pk, "ios")
    # Both from the database's clock, in the same INSERT.
    assert body["created_at"] == body["last_seen_at"] == iso(device.created_at)
    assert (device.patient, device.platform, device.token) == (ana, "ios", "fcm-token-ana-1")
    assert "no-store" in response["Cache-Control"]
    assert device_audits(
        action=AuditAction.CREATE,
        object_id=str(device.pk),
        actor=ana.app_user,
        patient_id=ana.pk,
        clinic_id=ana.clinic_id,
    ).exists()


def test_the_same_token_again_is_200_and_refreshes_the_device(ana_client, ana):
    with frozen:
        first = register(ana_client, "fcm-token-ana-1", "android")
    later = NOW + datetime.timedelta(days=3)

    with time_machine.travel(later, tick=False):
        again = register(ana_client, "fcm-token-ana-1", "android")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created_at"] == first.json()["created_at"]
    assert again.json()["last_seen_at"] == iso(later)
    device = Device.objects.get()
    assert device.last_seen_at == later
    assert device_audits(action=AuditAction.CREATE).count() == 1
    assert device_audits(
        action=AuditAction.UPDATE, object_id=str(device.pk), patient_id=ana.pk
    ).exists()


@frozen
def test_a_second_phone_is_a_second_device(ana_client, ana):
    register(ana_client, "fcm-token-ana-1", "android")
    response = register(ana_client, "apns-token-ana-2", "ios")

    assert response.status_code == 201
    assert sorted(Device.objects.filter(patient=ana).values_list("platform", "token")) == [
        ("android", "fcm-token-ana-1"),
        ("ios", "apns-token-ana-2"),
    ]


@frozen
def test_a_token_known_for_another_patient_moves_to_this_one(ana_client, ben_client, ana, ben):
    # given: the phone was Ben's
    ben_device = register(ben_client, "shared-phone", "android").json()

    # when: Ana signs into the app on it
    response = register(ana_client, "shared-phone", "ios")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["id"] == ben_device["id"]
    device = Device.objects.get()
    assert (device.patient, device.platform) == (ana, "ios")
    assert not Device.objects.filter(patient=ben).exists()
    assert device_audits(
        action=AuditAction.UPDATE, object_id=str(device.pk), patient_id=ana.pk
    ).exists()


@frozen
def test_the_token_is_stored_without_surrounding_spaces(ana_client):
    register(ana_client, "  fcm-token-ana-1 \n")
    response = register(ana_client, "fcm-token-ana-1")

    assert response.status_code == 200
    assert list(Device.objects.values_list("token", flat=True)) == ["fcm-token-ana-1"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"platform": "windows", "token": "fcm-token"}, "platform"),
        ({"platform": "", "token": "fcm-token"}, "platform"),
        ({"token": "fcm-token"}, "platform"),
        ({"platform": "ios", "token": ""}, "token"),
        ({"platform": "ios", "token": "   "}, "token"),
        ({"platform": "android"}, "token"),
        ({"platform": "ios", "token": "x" * 513}, "token"),
        # Past what a btree index entry holds: a 500 from the unique index before the cap.
        ({"platform": "ios", "token": "x" * 4096}, "token"),
        ({"platform": "ios", "token": "x" * 4097}, "token"),
    ],
)
@frozen
def test_a_bad_platform_or_token_is_a_400_with_the_error_body(ana_client, payload, field):
    response = ana_client.post(BASE, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == "invalid"
    assert body["detail"]
    assert list(body["fields"]) == [field]
    assert body["fields"][field]
    assert not Device.objects.exists()
    assert not device_audits().exists()


@frozen
def test_a_token_of_512_characters_is_accepted(ana_client, ana):
    response = register(ana_client, "t" * 512)

    assert response.status_code == 201, response.content
    assert Device.objects.get().token == "t" * 512


@frozen
def test_the_service_refuses_a_token_longer_than_the_column(ana):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.device_register(actor=None, patient=ana, platform="ios", token="t" * 513)

    assert list(error.value.message_dict) == ["token"]
    assert not Device.objects.exists()


@frozen
def test_the_service_refuses_a_bad_platform_or_a_blank_token(ana):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as platform:
        services.device_register(actor=None, patient=ana, platform="web", token="t")
    with pytest.raises(ValidationError) as token:
        services.device_register(actor=None, patient=ana, platform="ios", token="  ")

    assert list(platform.value.message_dict) == ["platform"]
    assert list(token.value.message_dict) == ["token"]
    assert not Device.objects.exists()
