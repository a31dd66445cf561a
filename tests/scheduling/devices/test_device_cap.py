"""At most DEVICES_PER_PATIENT phones a patient: the one seen longest ago makes room, even under
concurrency."""

import pytest

from clinic.models import AuditAction
from scheduling import services
from scheduling.models import Device
from tests.factories import app_account
from tests.scheduling.devices.helpers import device_audits, register_on

pytestmark = pytest.mark.django_db


def test_an_eleventh_device_replaces_the_one_seen_longest_ago(ana_client, ana, ben_client, ben):
    # given: ten phones, the first seen again last (so the second is the stalest)
    ids = [register_on(1 + n, ana_client, f"ana-phone-{n}") for n in range(10)]
    register_on(12, ana_client, "ana-phone-0")
    bens = register_on(1, ben_client, "ben-phone")

    # when
    eleventh = register_on(13, ana_client, "ana-phone-10")

    # then
    assert Device.objects.filter(patient=ana).count() == 10
    assert not Device.objects.filter(pk=ids[1]).exists()
    assert Device.objects.filter(pk=ids[0]).exists()
    assert Device.objects.filter(pk=eleventh).exists()
    assert Device.objects.filter(pk=bens, patient=ben).exists()
    assert list(device_audits(action=AuditAction.DELETE).values_list("object_id", "actor")) == [
        (str(ids[1]), ana.app_user.pk)
    ]


def test_the_cap_is_a_setting_and_a_known_token_takes_no_place(settings, ana_client, ana):
    settings.DEVICES_PER_PATIENT = 2
    first = register_on(1, ana_client, "ana-phone-1")
    second = register_on(2, ana_client, "ana-phone-2")

    # A phone already registered comes back: nothing is replaced.
    assert register_on(3, ana_client, "ana-phone-1") == first
    assert set(Device.objects.values_list("pk", flat=True)) == {first, second}

    third = register_on(4, ana_client, "ana-phone-3")

    assert set(Device.objects.values_list("pk", flat=True)) == {first, third}


def test_a_phone_moving_over_counts_against_its_new_patient(
    settings, ana_client, ben_client, ana, ben
):
    settings.DEVICES_PER_PATIENT = 2
    register_on(1, ana_client, "ana-phone-1")
    kept = register_on(2, ana_client, "ana-phone-2")
    handed_on = register_on(3, ben_client, "ben-phone")

    assert register_on(4, ana_client, "ben-phone") == handed_on

    assert set(Device.objects.filter(patient=ana).values_list("pk", flat=True)) == {
        kept,
        handed_on,
    }
    assert not Device.objects.filter(patient=ben).exists()


@pytest.mark.django_db(transaction=True)
def test_phones_registering_at_once_never_pass_the_cap(settings, ana):
    from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock

    settings.DEVICES_PER_PATIENT = 1
    user = app_account(ana)

    def register_phone(token):
        return lambda: services.device_register(
            actor=user, patient=ana, platform="android", token=token
        )

    # The first registration holds the patient's lock; the second waits for it, then replaces
    # the first phone instead of adding a second.
    with held_transaction(register_phone("phone-a")):
        second = InThread(register_phone("phone-b")).start()
        assert someone_waits_for_a_lock()
    second.join()

    assert list(Device.objects.filter(patient=ana).values_list("token", flat=True)) == ["phone-b"]
