"""Intake over HTTP: patients (API.md, "Intake"), their contacts and consents."""

import datetime
import threading

import pytest
import time_machine
from django.db import connection

from clinic.models import AuditEvent
from patients import services
from patients.models import Patient
from tests.factories import PatientFactory, staff_user

pytestmark = pytest.mark.django_db

ANA = {
    "first_name": "Ana",
    "last_name": "Diaz",
    "date_of_birth": "1990-04-02",
    "email": "ana@example.org",
    "phone": "+12025550143",
    "reminder_channels": ["email"],
}


def register(client, clinic, **overrides):
    return client.post(
        "/api/v1/patients/", {"clinic": clinic.pk, **ANA, **overrides}, format="json"
    )


# Registration -------------------------------------------------------------------------------------


def test_api_md_registration_returns_the_patient_with_a_generated_mrn(
    client_for, admissions, clinic
):
    response = register(client_for(admissions), clinic)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {
        "id",
        "mrn",
        "clinic",
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "phone",
        "reminder_channels",
    } <= set(body)
    assert body["clinic"] == clinic.pk
    assert body["mrn"] == "0000001"
    assert body["phone"] == "+12025550143"
    assert body["reminder_channels"] == ["email"]
    assert body["reminder_channels_recorded_by"] == admissions.username
    assert response.headers["Cache-Control"].count("no-store") == 1


def test_phone_numbers_are_stored_in_e164(client_for, admissions, clinic):
    response = register(client_for(admissions), clinic, phone="(202) 555-0143")

    assert response.status_code == 201
    assert Patient.objects.get().phone == "+12025550143"


def test_mrns_count_per_clinic(client_for, clinic, other_clinic):
    user = staff_user(role="admissions", clinics=[clinic, other_clinic])
    client = client_for(user)

    first = register(client, clinic).json()["mrn"]
    second = register(client, clinic, first_name="Bea").json()["mrn"]
    elsewhere = register(client, other_clinic).json()["mrn"]

    assert (first, second, elsewhere) == ("0000001", "0000002", "0000001")


def test_a_refused_registration_does_not_use_up_an_mrn(client_for, admissions, clinic):
    client = client_for(admissions)
    register(client, clinic)

    assert register(client, clinic).status_code == 409  # the duplicate
    assert register(client, clinic, first_name="Bea").json()["mrn"] == "0000002"


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_distinct_mrns(clinic, admissions):
    errors = []

    def register_one(index):
        try:
            PatientFactory(
                clinic=clinic,
                actor=admissions,
                first_name=f"Person{index}",
                last_name="Cole",
                date_of_birth=datetime.date(1985, 6, 1),
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=register_one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    mrns = sorted(Patient.objects.values_list("mrn", flat=True))
    assert mrns == [f"{n:07d}" for n in range(1, 9)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_register_one_patient(clinic, admissions):
    outcomes = []

    def register_same():
        try:
            PatientFactory(
                clinic=clinic,
                actor=admissions,
                first_name="Ben",
                last_name="Cole",
                date_of_birth=datetime.date(1985, 6, 1),
            )
            outcomes.append("created")
        except Exception as error:
            outcomes.append(getattr(error, "code", repr(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=register_same) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created"] + ["possible_duplicate"] * 3
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": "2026-11-24"}, "date_of_birth", "cannot be in the future"),
        ({"date_of_birth": "1906-11-22"}, "date_of_birth", "more than 120 years ago"),
        ({"phone": "+1 555"}, "phone", "valid phone number"),
        ({"reminder_channels": ["fax"]}, "reminder_channels", "not a valid choice"),
        (
            {"reminder_channels": ["sms"], "phone": ""},
            "reminder_channels",
            "SMS reminders need a phone number",
        ),
        (
            {"reminder_channels": ["email"], "email": ""},
            "reminder_channels",
            "E-mail reminders need an e-mail address",
        ),
        ({"reminder_channels": ["email", "email"]}, "reminder_channels", "listed twice"),
        ({"first_name": ""}, "first_name", "may not be blank"),
        ({"date_of_birth": "02/04/1990"}, "date_of_birth", "wrong format"),
    ],
)
@time_machine.travel(datetime.datetime(2026, 11, 23, 15, tzinfo=datetime.UTC), tick=False)
def test_bad_input_is_400_with_field_messages(
    client_for, admissions, clinic, overrides, field, message
):
    response = register(client_for(admissions), clinic, **overrides)

    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body["fields"]
    assert any(message in text for text in body["fields"][field]), body
    assert not Patient.objects.exists()


@time_machine.travel(datetime.datetime(2026, 11, 23, 15, tzinfo=datetime.UTC), tick=False)
def test_birth_dates_at_the_edges_are_accepted(client_for, admissions, clinic):
    client = client_for(admissions)

    assert register(client, clinic, date_of_birth="2026-11-23").status_code == 201
    assert register(client, clinic, date_of_birth="1906-11-23", first_name="Old").status_code == 201


def test_likely_duplicate_is_409_unless_intended(client_for, admissions, clinic):
    client = client_for(admissions)
    first = register(client, clinic).json()

    refused = register(client, clinic, first_name=" ana ", last_name="DIAZ")
    intended = register(client, clinic, allow_duplicate=True)

    assert refused.status_code == 409
    assert refused.json()["code"] == "possible_duplicate"
    assert refused.json()["duplicates"] == [first["id"]]
    assert intended.status_code == 201
    assert intended.json()["mrn"] != first["mrn"]


def test_same_person_at_another_clinic_is_not_a_duplicate(client_for, clinic, other_clinic):
    user = staff_user(role="admissions", clinics=[clinic, other_clinic])
    client = client_for(user)
    register(client, clinic)

    assert register(client, other_clinic).status_code == 201


def test_the_database_refuses_sms_without_a_phone_whatever_the_code_path(clinic, admissions):
    from django.db import IntegrityError, transaction

    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(reminder_channels=["sms"])


# Updates ------------------------------------------------------------------------------------------


def test_changing_reminder_channels_records_who_and_when(client_for, admissions, clinician, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        email="ben@example.org",
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )

    with time_machine.travel(datetime.datetime(2026, 11, 20, 9, tzinfo=datetime.UTC)):
        response = client_for(clinician).patch(
            f"/api/v1/patients/{patient.pk}/", {"reminder_channels": ["email"]}, format="json"
        )

    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.reminder_channels == ["email"]
    assert patient.reminder_channels_recorded_by == clinician
    assert patient.reminder_channels_recorded_at.date() == datetime.date(2026, 11, 20)


@pytest.mark.parametrize("field", ["clinic", "mrn", "id", "app_user"])
def test_protected_fields_cannot_be_mass_assigned(
    client_for, admissions, clinic, other_clinic, field
):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )

    response = client_for(admissions).patch(
        f"/api/v1/patients/{patient.pk}/", {field: other_clinic.pk}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["fields"]
    refreshed = Patient.objects.get(pk=patient.pk)
    assert (refreshed.clinic, refreshed.mrn) == (clinic, patient.mrn)


def test_put_is_not_offered(client_for, admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )

    response = client_for(admissions).put(f"/api/v1/patients/{patient.pk}/", {}, format="json")

    assert response.status_code == 405


# Search, filters, ordering ------------------------------------------------------------------------


@pytest.fixture
def three_patients(clinic, admissions):
    return [
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name="Ana",
            last_name="Diaz",
            date_of_birth=datetime.date(1990, 4, 2),
        ),
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name="Bruno",
            last_name="Alves",
            date_of_birth=datetime.date(1975, 1, 9),
            phone="+12025550111",
            reminder_channels=["sms"],
        ),
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name="Carla",
            last_name="Diaz-Moreno",
            date_of_birth=datetime.date(2001, 12, 31),
        ),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=diaz", ["Ana", "Carla"]),
        ("search=ana%20diaz", ["Ana"]),
        ("search=0000002", ["Bruno"]),
        ("search=1975-01-09", ["Bruno"]),
        ("date_of_birth=2001-12-31", ["Carla"]),
        ("reminder_channel=sms", ["Bruno"]),
        ("ordering=-date_of_birth", ["Carla", "Ana", "Bruno"]),
        ("ordering=date_of_birth", ["Bruno", "Ana", "Carla"]),
        ("", ["Bruno", "Ana", "Carla"]),  # default: last name, first name
    ],
)
def test_search_filters_and_ordering(client_for, supervisor, three_patients, query, expected):
    response = client_for(supervisor).get(f"/api/v1/patients/?{query}")

    assert [row["first_name"] for row in response.json()["results"]] == expected


# Roles and scoping --------------------------------------------------------------------------------


def test_supervisors_read_but_do_not_write(client_for, supervisor, admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )
    client = client_for(supervisor)

    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert register(client, clinic).status_code == 403
    assert (
        client.patch(
            f"/api/v1/patients/{patient.pk}/", {"first_name": "X"}, format="json"
        ).status_code
        == 403
    )


def test_accounts_without_a_staff_role_get_403(client_for, user_without_role):
    assert client_for(user_without_role).get("/api/v1/patients/").status_code == 403


def test_another_clinics_patients_are_invisible(client_for, admissions, clinic, other_clinic):
    outsider = staff_user(role="admissions", clinics=[other_clinic])
    hidden = PatientFactory(
        clinic=other_clinic,
        actor=outsider,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )
    client = client_for(admissions)

    assert client.get("/api/v1/patients/").json()["results"] == []
    assert client.get(f"/api/v1/patients/{hidden.pk}/").status_code == 404
    assert (
        client.patch(
            f"/api/v1/patients/{hidden.pk}/", {"first_name": "X"}, format="json"
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/patients/{hidden.pk}/consents/").status_code == 404
    refused = register(client, other_clinic)
    assert refused.status_code == 400
    assert "clinic" in refused.json()["fields"]


# Audit --------------------------------------------------------------------------------------------


def test_every_read_and_write_is_audited(client_for, admissions, clinic, three_patients):
    client = client_for(admissions)
    AuditEvent.objects.all()  # rows of the fixtures' registrations exist already
    before = AuditEvent.objects.count()

    client.get("/api/v1/patients/?page_size=2")
    listed = list(AuditEvent.objects.order_by("id")[before:])
    client.get(f"/api/v1/patients/{three_patients[0].pk}/")
    read = AuditEvent.objects.latest("id")
    client.patch(f"/api/v1/patients/{three_patients[0].pk}/", {"first_name": "Anna"}, format="json")
    updated = AuditEvent.objects.latest("id")

    assert [(e.action, e.actor_id) for e in listed] == [("list", admissions.pk)] * 2
    assert {e.patient_id for e in listed} == {three_patients[1].pk, three_patients[0].pk}
    assert (read.action, read.patient_id, read.object_type) == (
        "read",
        three_patients[0].pk,
        "patients.patient",
    )
    assert (updated.action, updated.patient_id) == ("update", three_patients[0].pk)
    assert all(e.clinic_id == clinic.pk for e in [*listed, read, updated])
    assert all(e.request_id for e in [*listed, read, updated])


# Query counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 20, 200])
def test_patient_list_queries_do_not_grow_with_the_page(
    client_for, supervisor, admissions, clinic, page_size, django_assert_num_queries
):
    for index in range(200):
        patient = PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=f"P{index}",
            last_name="Cole",
            date_of_birth=datetime.date(1985, 6, 1),
        )
        services.contact_create(
            actor=admissions, patient=patient, kind="emergency", name="Kin", phone="+12025550100"
        )
    client = client_for(supervisor)

    # roles, clinic ids, count, page, contacts (prefetch), audit insert
    with django_assert_num_queries(6):
        response = client.get(f"/api/v1/patients/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size


# Contacts -----------------------------------------------------------------------------------------


def test_contacts_are_added_changed_and_removed(client_for, admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )
    client = client_for(admissions)
    base = f"/api/v1/patients/{patient.pk}/contacts/"

    created = client.post(
        base,
        {
            "kind": "emergency",
            "name": "Rosa Cole",
            "relationship": "Mother",
            "phone": "+12025550177",
        },
        format="json",
    )
    contact_id = created.json()["id"]
    changed = client.patch(f"{base}{contact_id}/", {"relationship": "Aunt"}, format="json")
    listing = client.get(base).json()["results"]
    detail = client.get(f"/api/v1/patients/{patient.pk}/").json()["contacts"]
    removed = client.delete(f"{base}{contact_id}/")

    assert created.status_code == 201
    assert changed.json()["relationship"] == "Aunt"
    assert [c["name"] for c in listing] == ["Rosa Cole"]
    assert [c["name"] for c in detail] == ["Rosa Cole"]
    assert removed.status_code == 204
    assert not patient.contacts.exists()


def test_a_contact_needs_a_way_to_reach_them(client_for, admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )

    response = client_for(admissions).post(
        f"/api/v1/patients/{patient.pk}/contacts/",
        {"kind": "support", "name": "Sponsor"},
        format="json",
    )

    assert response.status_code == 400
    assert "phone" in response.json()["fields"]


# Consents -----------------------------------------------------------------------------------------

CONSENT = {
    "information": "Attendance dates and progress summary",
    "recipients": "County court",
    "purpose": "Probation reporting",
    "signed_on": "2026-11-01",
    "expiry_event": "End of probation",
    "recipient_names": ["County court"],
    "purposes": ["other"],
    "purpose_other": "Probation reporting",
    "categories": ["attendance"],
    "revocation_how": "In writing to the privacy officer",
    "treatment_conditioned": False,
}


# Signed and revoked on fixed dates, which must not be in the future.
@time_machine.travel(datetime.datetime(2026, 11, 20, 15, tzinfo=datetime.UTC), tick=False)
def test_consents_are_recorded_listed_and_revoked(client_for, admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )
    client = client_for(admissions)
    base = f"/api/v1/patients/{patient.pk}/consents/"

    created = client.post(base, CONSENT, format="json")
    consent_id = created.json()["id"]
    revoked = client.post(
        f"{base}{consent_id}/revoke/", {"revoked_on": "2026-11-10"}, format="json"
    )
    again = client.post(f"{base}{consent_id}/revoke/", {"revoked_on": "2026-11-11"}, format="json")
    listing = client.get(base).json()["results"]

    assert created.status_code == 201
    assert created.json()["discloser"] == clinic.name
    assert created.json()["is_active"] is True
    assert revoked.status_code == 200
    assert revoked.json()["revoked_on"] == "2026-11-10"
    assert again.status_code == 409
    assert again.json()["code"] == "already_revoked"
    assert listing[0]["is_active"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expiry_event": ""}, "expires_on"),
        ({"expires_on": "2026-10-01"}, "expires_on"),
        ({"signed_on": "2099-01-01"}, "signed_on"),
        ({"purpose": ""}, "purpose"),
    ],
)
def test_consents_need_every_part_2_element(client_for, admissions, clinic, changes, field):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ben",
        last_name="Cole",
        date_of_birth=datetime.date(1985, 6, 1),
    )

    response = client_for(admissions).post(
        f"/api/v1/patients/{patient.pk}/consents/", {**CONSENT, **changes}, format="json"
    )

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
