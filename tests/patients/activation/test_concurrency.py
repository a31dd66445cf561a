"""Concurrent activations of one code make exactly one account."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from patients import services as patient_services
from tests.factories import PatientFactory
from tests.patients.activation.helpers import BIRTH, activate, anonymous

pytestmark = pytest.mark.django_db


# Concurrency --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_of_one_code_make_exactly_one_account(
    clinic, admissions, monkeypatch
):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Robin",
        last_name="Okafor",
        date_of_birth=BIRTH,
        reachable=True,
        phone="",
        reminder_channels=[],
    )
    _, code = patient_services.activation_code_issue(actor=admissions, patient=patient)
    User = get_user_model()
    create_user = User.objects.create_user

    def slow_create_user(*args, **kwargs):
        # Widen the window between reading the code and marking it used: without the row
        # lock, every thread would find the code unused and make an account.
        time.sleep(0.2)
        return create_user(*args, **kwargs)

    monkeypatch.setattr(User.objects, "create_user", slow_create_user)
    barrier = threading.Barrier(8)
    outcomes = []

    def attempt(index):
        try:
            client = anonymous()
            barrier.wait()
            response = activate(code, username=f"racer-{index}", client=client)
            outcomes.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes, key=str) == [(201, None)] + [(400, "activation_failed")] * 7
    assert User.objects.filter(username__startswith="racer-").count() == 1
    patient.refresh_from_db()
    assert patient.app_user.username.startswith("racer-")
