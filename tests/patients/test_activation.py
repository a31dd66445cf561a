"""The patient's app activation and revoked app access (API.md "The patient's app", issue 7)."""

import datetime
import logging
import random
import re
import threading
import time

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from clinic.models import AuditEvent
from patients import activation
from patients.models import ActivationCode
from tests.factories import PatientFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
BIRTH = datetime.date(1988, 4, 9)
PASSWORD = "quiet-river-morning-42"
REFUSED = {
    "code": "activation_failed",
    "detail": activation.ActivationRefused.DETAIL,
    "fields": {},
}


def anonymous():
    """A client of its own address, so that throttles of other tests never count against it."""
    return APIClient(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.7")


def issue(client, patient):
    return client.post(f"/api/v1/patients/{patient.pk}/activation/")


def activate(code, *, date_of_birth=BIRTH, username="robin-app", password=PASSWORD, client=None):
    return (client or anonymous()).post(
        "/api/v1/auth/activate/",
        {
            "activation_code": code,
            "date_of_birth": date_of_birth.isoformat()
            if isinstance(date_of_birth, datetime.date)
            else date_of_birth,
            "username": username,
            "password": password,
        },
    )


def bearer(access):
    client = anonymous()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Robin",
        last_name="Okafor",
        date_of_birth=BIRTH,
        reachable=True,
        phone="",
        reminder_channels=[],
    )


@pytest.fixture
def staff(client_for, admissions):
    return client_for(admissions)


@pytest.fixture
def code(staff, patient):
    response = issue(staff, patient)
    assert response.status_code == 201
    return response.json()["activation_code"]


# The whole flow ----------------------------------------------------------------------------------


def test_the_patient_flow_from_front_desk_to_logout(staff, patient):
    # given: the front desk issues a code
    issued = issue(staff, patient)
    assert issued.status_code == 201
    assert set(issued.json()) == {"activation_code", "expires_at"}
    assert "no-store" in issued["Cache-Control"]
    code = issued.json()["activation_code"]
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", code)

    # when: the patient activates in the app
    activated = activate(code)

    # then: tokens for a new account linked to the patient
    assert activated.status_code == 201
    tokens = activated.json()
    assert set(tokens) == {"access", "refresh"}
    patient.refresh_from_db()
    assert patient.app_user.username == "robin-app"
    assert patient.app_user.check_password(PASSWORD)

    schedule = bearer(tokens["access"]).get("/api/v1/me/schedule/")
    assert schedule.status_code == 200
    assert schedule.json()["results"] == []

    refreshed = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    rotated = refreshed.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert bearer(rotated["access"]).get("/api/v1/me/schedule/").status_code == 200

    assert anonymous().post(
        "/api/v1/auth/logout/", {"refresh": rotated["refresh"]}
    ).status_code == (204)
    after_logout = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": rotated["refresh"]})
    assert after_logout.status_code == 401
    assert after_logout.json()["code"] == "token_not_valid"
    # The rotated-away token is void too (its reuse would also void the chain).
    reused = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert reused.status_code == 401

    # and the patient signs in again with the chosen password
    again = anonymous().post("/api/v1/auth/token/", {"username": "robin-app", "password": PASSWORD})
    assert again.status_code == 200


def test_the_code_is_typed_loosely(code):
    typed = code.replace("-", " ").lower()

    assert activate(f"  {typed} ").status_code == 201


def test_the_code_expires_after_activation_code_hours(settings, staff, patient, admissions):
    settings.ACTIVATION_CODE_HOURS = 72
    with time_machine.travel(NOW, tick=False):
        issued = issue(staff, patient).json()
    assert issued["expires_at"] == "2026-12-04T15:00:00Z"

    with time_machine.travel(NOW + datetime.timedelta(hours=72), tick=False):
        expired = activate(issued["activation_code"])
    with time_machine.travel(NOW + datetime.timedelta(hours=71, minutes=59), tick=False):
        in_time = activate(issued["activation_code"])

    assert (expired.status_code, expired.json()) == (400, REFUSED)
    assert in_time.status_code == 201


def test_the_lifetime_is_a_setting(settings, staff, patient):
    settings.ACTIVATION_CODE_HOURS = 1
    with time_machine.travel(NOW, tick=False):
        code = issue(staff, patient).json()["activation_code"]
    with time_machine.travel(NOW + datetime.timedelta(minutes=61), tick=False):
        response = activate(code)

    assert (response.status_code, response.json()) == (400, REFUSED)


# One answer for every refusal --------------------------------------------------------------------


def refuse_unknown(code, staff, patient):
    return activate("ABCD-EFGH-JKMN")


def refuse_malformed(code, staff, patient):
    return activate("not a code at all")


def refuse_wrong_birth_date(code, staff, patient):
    return activate(code, date_of_birth=BIRTH + datetime.timedelta(days=1))


def refuse_used(code, staff, patient):
    assert activate(code, username="first-one").status_code == 201
    return activate(code, username="second-one")


def refuse_expired(code, staff, patient):
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=4)):
        return activate(code)


def refuse_locked(code, staff, patient):
    for _ in range(5):
        activate(code, date_of_birth=datetime.date(1970, 1, 1))
    return activate(code)  # the right date of birth, too late


def refuse_replaced(code, staff, patient):
    assert issue(staff, patient).status_code == 201
    return activate(code)


def refuse_revoked(code, staff, patient):
    assert staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code == 204
    return activate(code)


REFUSALS = [
    refuse_unknown,
    refuse_malformed,
    refuse_wrong_birth_date,
    refuse_used,
    refuse_expired,
    refuse_locked,
    refuse_replaced,
    refuse_revoked,
]


@pytest.mark.parametrize("refuse", REFUSALS, ids=lambda f: f.__name__)
def test_every_refusal_is_one_and_the_same_answer(refuse, code, staff, patient):
    response = refuse(code, staff, patient)

    assert response.status_code == 400
    assert response.json() == REFUSED
    assert response["Cache-Control"].count("no-store") == 1


def test_the_refusals_are_byte_for_byte_identical(staff, clinic, admissions):
    bodies = set()
    for index, refuse in enumerate(REFUSALS):
        patient = PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=f"Sam{'x' * index}",
            last_name="Okafor",
            date_of_birth=BIRTH,
            reachable=True,
            phone="",
            reminder_channels=[],
        )
        code = issue(staff, patient).json()["activation_code"]
        response = refuse(code, staff, patient)
        bodies.add((response.status_code, response.content, response["Content-Type"]))

    assert len(bodies) == 1


def test_a_wrong_birth_date_does_not_use_the_code_up(code, patient):
    for _ in range(4):
        assert activate(code, date_of_birth=datetime.date(1990, 1, 1)).json() == REFUSED

    assert activate(code).status_code == 201
    row = ActivationCode.objects.get(patient=patient)
    assert row.failed_attempts == 4
    assert row.used_at is not None


def test_five_wrong_birth_dates_lock_the_code(code, patient):
    for _ in range(5):
        activate(code, date_of_birth=datetime.date(1990, 1, 1))

    row = ActivationCode.objects.get(patient=patient)
    assert row.failed_attempts == 5
    assert row.locked_at is not None
    assert activate(code).json() == REFUSED
    patient.refresh_from_db()
    assert patient.app_user is None
    # The failed tries are on the patient's audit trail, with no actor.
    tries = AuditEvent.objects.filter(
        object_type="patients.activationcode", action="update", patient_id=patient.pk
    )
    assert tries.count() == 5
    assert {event.actor_id for event in tries} == {None}


def test_a_new_code_after_a_lock_works(code, staff, patient):
    for _ in range(5):
        activate(code, date_of_birth=datetime.date(1990, 1, 1))

    fresh = issue(staff, patient).json()["activation_code"]

    assert activate(fresh).status_code == 201


# Field errors say nothing about the code ----------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["short1", "password123", "12345678901234", "robin-app"], ids=str
)
def test_a_weak_password_is_a_400_on_password_and_leaves_the_code_usable(code, password):
    response = activate(code, password=password)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"password"}
    assert activate(code).status_code == 201


def test_a_password_like_the_patients_own_name_is_refused(code):
    response = activate(code, password="robinokafor")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"password"}


def test_a_taken_username_is_a_400_on_username_in_any_case(code):
    UserFactory(username="Robin-App")

    response = activate(code, username="robin-app")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username"}
    assert activate(code, username="robin-2").status_code == 201


def test_field_errors_come_the_same_with_a_good_or_a_bad_code(code):
    UserFactory(username="taken")
    good = activate(code, username="taken", password="short")
    bad = activate("ABCD-EFGH-JKMN", username="taken", password="short")

    assert good.status_code == bad.status_code == 400
    assert good.json() == bad.json()
    # The password's rules are for anyone to know; whether a username is taken is not.
    assert set(good.json()["fields"]) == {"password"}


@pytest.mark.parametrize(
    ("code_of", "date_of_birth"),
    [("wrong code", BIRTH), ("right code", datetime.date(1990, 1, 1))],
    ids=["wrong code", "wrong birth date"],
)
def test_without_the_code_and_birth_date_a_taken_username_is_not_told(code, code_of, date_of_birth):
    # given: a staff member's username, which someone wants to confirm
    staff_user(role="clinician", username="dr-ana")
    typed = code if code_of == "right code" else "ABCD-EFGH-JKMN"

    # when: they try it, in any case, and a free name, without the right code and birth date
    answers = [
        activate(typed, date_of_birth=date_of_birth, username=username)
        for username in ("dr-ana", "DR-Ana", "free-name-17")
    ]

    # then: one and the same refusal, which says nothing about the usernames
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert [answer.json() for answer in answers] == [REFUSED] * 3


def test_the_database_refuses_a_username_differing_only_in_case():
    from django.db import IntegrityError, transaction

    User = get_user_model()
    User.objects.create_user("ana", password=PASSWORD)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("Ana", password=PASSWORD)
    assert list(User.objects.filter(username__iexact="ana").values_list("username", flat=True)) == [
        "ana"
    ]


def test_a_username_clash_the_database_finds_is_a_400_on_username():
    from django.db import IntegrityError, transaction

    from clinic.api.errors import exception_handler

    get_user_model().objects.create_user("ana", password=PASSWORD)
    try:
        with transaction.atomic():
            get_user_model().objects.create_user("ANA", password=PASSWORD)
    except IntegrityError as error:
        response = exception_handler(error, {})
    else:
        pytest.fail("the database took a second 'ana'")

    assert response.status_code == 400
    assert response.data["fields"] == {"username": ["This username is taken; choose another."]}


def test_activating_with_a_username_taken_in_another_case_is_a_400_and_the_code_still_works(
    code,
):
    get_user_model().objects.create_user("robin-app", password=PASSWORD)

    response = activate(code, username="Robin-App")

    assert response.status_code == 400
    assert response.json()["fields"] == {"username": ["This username is taken; choose another."]}
    assert activate(code, username="robin-okafor").status_code == 201


def test_a_malformed_birth_date_is_a_field_error(code):
    response = activate(code, date_of_birth="09/04/1988")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"date_of_birth"}


# Issuing ------------------------------------------------------------------------------------------


def test_the_plain_code_is_stored_nowhere(staff, patient, caplog):
    caplog.set_level(logging.DEBUG)
    code = issue(staff, patient).json()["activation_code"]
    forms = {code, code.replace("-", ""), code.replace("-", "").lower()}
    assert activate(code, date_of_birth=datetime.date(1990, 1, 1)).status_code == 400
    assert activate(code).status_code == 201

    row = ActivationCode.objects.get(patient=patient)
    assert row.code_hash == activation.code_hash(code)
    assert len(row.code_hash) == 64
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        assert "patients_activationcode" in tables
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" AS t')  # noqa: S608
            for (text,) in cursor.fetchall():
                assert not any(form in text for form in forms), table
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(form in logged for form in forms)


def test_the_hash_is_keyed_with_the_secret_key(settings):
    before = activation.code_hash("ABCD-EFGH-JKMN")
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"

    assert activation.code_hash("ABCD-EFGH-JKMN") != before


def test_codes_are_random(staff, clinic, admissions):
    codes = {
        issue(
            staff,
            PatientFactory(
                clinic=clinic,
                actor=admissions,
                first_name=f"P{'a' * n}",
                last_name="Okafor",
                date_of_birth=BIRTH,
                reachable=True,
                phone="",
                reminder_channels=[],
            ),
        ).json()["activation_code"]
        for n in range(20)
    }

    assert len(codes) == 20


def test_issuing_is_audited_without_the_code(staff, admissions, patient):
    code = issue(staff, patient).json()["activation_code"]

    event = AuditEvent.objects.get(object_type="patients.activationcode", action="create")
    assert event.actor == admissions
    assert event.patient_id == patient.pk
    assert event.clinic_id == patient.clinic_id
    assert code not in str(vars(event))


def test_activating_is_audited_with_the_new_account_as_actor(code, patient):
    activate(code)

    patient.refresh_from_db()
    event = AuditEvent.objects.get(object_type="patients.activationcode", action="update")
    assert event.actor == patient.app_user
    assert event.patient_id == patient.pk


def test_a_new_code_replaces_the_earlier_one(staff, patient):
    first = issue(staff, patient).json()["activation_code"]
    second = issue(staff, patient).json()["activation_code"]

    assert activate(first).json() == REFUSED
    assert activate(second).status_code == 201
    assert ActivationCode.objects.filter(patient=patient, revoked_at__isnull=False).count() == 1


def test_no_code_while_the_patient_has_an_active_account(code, staff, patient):
    assert activate(code).status_code == 201

    response = issue(staff, patient)

    assert response.status_code == 409
    assert response.json()["code"] == "app_account_active"


@pytest.mark.parametrize("role", ["clinician", "supervisor"])
def test_only_admissions_issue_codes(client_for, clinic, patient, role):
    response = issue(client_for(staff_user(role=role, clinics=[clinic])), patient)

    assert response.status_code == 403
    assert not ActivationCode.objects.exists()


def test_another_clinics_patient_is_404(client_for, other_clinic, patient):
    response = issue(client_for(staff_user(role="admissions", clinics=[other_clinic])), patient)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_patients_account_and_anonymous_callers_cannot_issue(client_for, code, patient):
    tokens = activate(code).json()

    assert issue(bearer(tokens["access"]), patient).status_code == 403
    assert issue(anonymous(), patient).status_code == 401


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
    _, code = activation.activation_code_issue(actor=admissions, patient=patient)
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


# Revoked app access -------------------------------------------------------------------------------


def test_revoking_stops_every_token_at_once(code, client_for, supervisor, patient):
    tokens = activate(code).json()
    second = (
        anonymous()
        .post("/api/v1/auth/token/", {"username": "robin-app", "password": PASSWORD})
        .json()
    )
    assert bearer(tokens["access"]).get("/api/v1/me/schedule/").status_code == 200

    response = client_for(supervisor).post(f"/api/v1/patients/{patient.pk}/app-access/revoke/")

    assert response.status_code == 204
    # The access token issued before still has minutes to live, and is refused anyway.
    refused = bearer(tokens["access"]).get("/api/v1/me/schedule/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    for refresh in (tokens["refresh"], second["refresh"]):
        again = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": refresh})
        assert again.status_code == 401
    signin = anonymous().post(
        "/api/v1/auth/token/", {"username": "robin-app", "password": PASSWORD}
    )
    assert signin.status_code == 401
    patient.refresh_from_db()
    assert not patient.app_user.is_active
    outstanding = OutstandingToken.objects.filter(user=patient.app_user)
    assert outstanding.count() == 2
    assert all(hasattr(token, "blacklistedtoken") for token in outstanding)
    assert AuditEvent.objects.filter(
        object_type="patients.patient", action="update", actor=supervisor, patient_id=patient.pk
    ).exists()


def test_after_revoking_a_new_code_makes_a_new_account(code, staff, patient):
    activate(code)
    old_user = patient.__class__.objects.get(pk=patient.pk).app_user
    assert staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code == 204

    fresh = issue(staff, patient)
    assert fresh.status_code == 201
    activated = activate(fresh.json()["activation_code"], username="robin-new")

    assert activated.status_code == 201
    patient.refresh_from_db()
    assert patient.app_user.username == "robin-new"
    old_user.refresh_from_db()
    assert not old_user.is_active


def test_revoking_an_open_code_before_activation(code, staff, patient):
    assert staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code == 204

    assert activate(code).json() == REFUSED


def test_nothing_to_revoke_is_409(staff, patient):
    response = staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/")

    assert response.status_code == 409
    assert response.json()["code"] == "no_app_access"


def test_clinicians_cannot_revoke_and_other_clinics_get_404(client_for, clinician, code, patient):
    activate(code)
    outsider = staff_user(role="admissions", clinics=[])

    assert (
        client_for(clinician).post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code
        == 403
    )
    assert (
        client_for(outsider).post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code
        == 404
    )
    patient.refresh_from_db()
    assert patient.app_user.is_active
