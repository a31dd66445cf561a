"""The admissions admin (patients.admin): clinic scoping, saves through the services with the
services' messages, audit rows for reads and lists, and role permissions."""

import datetime
import importlib
import re

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.html import escape

from clinic.models import AuditAction, AuditEvent
from patients import services
from patients.admin import PatientAdmin
from patients.models import Assessment, Consent, Patient
from tests.factories import ClinicFactory, ConsentFactory, PatientFactory, admin_login, staff_user

pytestmark = pytest.mark.django_db

PATIENTS = "/admin/patients/patient/"
ASSESSMENTS = "/admin/patients/assessment/"
CONSENTS = "/admin/patients/consent/"
AUTOCOMPLETE = "/admin/autocomplete/"

# Severe, withdrawal rated 3: residential care is recommended.
RESIDENTIAL = {"d1": 3, "d2": 1, "d3": 1, "d4": 1, "d5": 1, "d6": 1}
# Mild, nothing rated 2 or more: outpatient care is recommended.
OUTPATIENT = {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 0, "d6": 0}


# Helpers ------------------------------------------------------------------------------------------


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def make_assessment(actor, patient, dimensions=RESIDENTIAL, severity="severe", **overrides):
    return services.assessment_create(
        actor=actor, patient=patient, severity=severity, dimensions=dict(dimensions), **overrides
    )


def html(response) -> str:
    return response.content.decode()


def listed(response) -> set[int]:
    """The ids of the patients on a changelist page."""
    return {patient.pk for patient in response.context["cl"].result_list}


def management_forms(client, url) -> dict[str, str]:
    """The inline management-form fields a browser sends back with the change form at ``url``."""
    page = client.get(url)
    assert page.status_code == 200
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        form = inline.formset.management_form
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            data[f"{form.prefix}-{name}"] = "" if value is None else str(value)
    return data


def post_patient_add(client, data):
    return client.post(
        f"{PATIENTS}add/", {**management_forms(client, f"{PATIENTS}add/"), **data, "_save": "Save"}
    )


def patient_form(clinic, **overrides):
    data = {
        "clinic": str(clinic.pk),
        "first_name": "Dana",
        "last_name": "Okafor",
        "date_of_birth": "1991-05-17",
        "email": "dana.okafor@example.org",
        "phone": "+12025550188",
        "reminder_channels": ["email", "sms"],
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def audit_rows(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def admissions_client(client, admissions):
    return log_in(client, admissions)


@pytest.fixture
def clinician_client(client, clinician):
    return log_in(client, clinician)


@pytest.fixture
def alvarez(admissions, clinic):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Maria",
        last_name="Alvarez",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )


@pytest.fixture
def brennan(admissions, clinic):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Thomas",
        last_name="Brennan",
        date_of_birth=datetime.date(1972, 11, 30),
        email="",
        phone="+12025550177",
        reminder_channels=[],
    )


@pytest.fixture
def stranger(other_clinic):
    """A patient of another clinic, with a name that appears nowhere else."""
    other_staff = staff_user(role="admissions", clinics=[other_clinic])
    return PatientFactory(
        clinic=other_clinic,
        actor=other_staff,
        first_name="Zebulon",
        last_name="Quimbyfaraway",
        date_of_birth=datetime.date(1984, 3, 7),
        email="zq@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )


@pytest.fixture
def assessment(clinician, alvarez):
    return make_assessment(clinician, alvarez)


# 1. The patient changelist ------------------------------------------------------------------------


def test_changelist_lists_own_clinic_patients_and_hides_other_clinics(
    admissions_client, alvarez, brennan, stranger
):
    response = admissions_client.get(PATIENTS)

    assert response.status_code == 200
    assert listed(response) == {alvarez.pk, brennan.pk}
    assert "Alvarez" in html(response)
    assert "Brennan" in html(response)
    assert "Quimbyfaraway" not in html(response)
    assert "Zebulon" not in html(response)


def test_search_by_last_name_finds_the_patient(admissions_client, alvarez, brennan, stranger):
    response = admissions_client.get(PATIENTS, {"q": "Brennan"})

    assert listed(response) == {brennan.pk}
    assert "Brennan" in html(response)


def test_search_by_mrn_is_exact_and_stays_in_the_clinic(
    admissions_client, alvarez, brennan, stranger
):
    # Each clinic numbers its own patients, so the stranger shares Alvarez's MRN.
    assert stranger.mrn == alvarez.mrn

    assert listed(admissions_client.get(PATIENTS, {"q": brennan.mrn})) == {brennan.pk}
    assert listed(admissions_client.get(PATIENTS, {"q": alvarez.mrn})) == {alvarez.pk}
    assert listed(admissions_client.get(PATIENTS, {"q": brennan.mrn[:-1]})) == set()


def test_search_by_date_of_birth_finds_the_patient(admissions_client, alvarez, brennan, stranger):
    response = admissions_client.get(PATIENTS, {"q": "1984-03-07"})

    assert response.status_code == 200
    assert listed(response) == {alvarez.pk}
    assert "Quimbyfaraway" not in html(response)


def test_clinic_filter_offers_only_the_users_clinics(client, clinic, other_clinic):
    annex = ClinicFactory(name="Harborview Annex")
    user = staff_user(role="admissions", clinics=[clinic, annex])
    log_in(client, user)

    response = client.get(PATIENTS)

    clinic_filter = next(
        spec for spec in response.context["cl"].filter_specs if spec.parameter_name == "clinic"
    )
    assert {pk for pk, _ in clinic_filter.lookup_choices} == {clinic.pk, annex.pk}
    assert "Harborview Annex" in html(response)
    assert f">{other_clinic.name}<" not in html(response)


def test_clinic_filter_narrows_the_list_to_that_clinic(client, clinic, admissions, alvarez):
    annex = ClinicFactory(name="Harborview Annex")
    user = staff_user(role="admissions", clinics=[clinic, annex])
    at_annex = PatientFactory(
        clinic=annex,
        actor=user,
        first_name="Ines",
        last_name="Kowalczyk",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    log_in(client, user)

    assert listed(client.get(PATIENTS)) == {alvarez.pk, at_annex.pk}
    assert listed(client.get(PATIENTS, {"clinic": annex.pk})) == {at_annex.pk}


def test_level_filter_selects_by_the_latest_assessment(
    admissions_client, clinician, alvarez, brennan, admissions, clinic
):
    never_assessed = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ada",
        last_name="Nakamura",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    # Brennan was residential once, but the latest assessment recommends outpatient care.
    make_assessment(
        clinician,
        brennan,
        assessed_at=timezone.now() - datetime.timedelta(days=30),
    )
    make_assessment(clinician, brennan, dimensions=OUTPATIENT, severity="mild")
    make_assessment(clinician, alvarez)

    assert listed(admissions_client.get(PATIENTS, {"level": "residential"})) == {alvarez.pk}
    assert listed(admissions_client.get(PATIENTS, {"level": "outpatient"})) == {brennan.pk}
    assert listed(admissions_client.get(PATIENTS, {"level": "none"})) == {never_assessed.pk}


def test_level_filter_follows_the_decided_level_that_the_list_shows(
    admissions_client, clinician, alvarez
):
    # Recommended residential, decided partial hospitalization: the list shows "php".
    assessment = make_assessment(clinician, alvarez)
    services.assessment_decide(
        actor=clinician,
        assessment=assessment,
        decided_level="php",
        override_reason="Strong family support at home.",
    )
    listing = admissions_client.get(PATIENTS)
    row = next(p for p in listing.context["cl"].result_list if p.pk == alvarez.pk)
    assert listing.context["cl"].model_admin.latest_level(row) == "php"

    assert listed(admissions_client.get(PATIENTS, {"level": "php"})) == {alvarez.pk}
    assert listed(admissions_client.get(PATIENTS, {"level": "residential"})) == set()


# 2. Other clinics' patients are out of reach ------------------------------------------------------


def test_another_clinics_patient_change_page_redirects_without_showing_the_patient(
    admissions_client, stranger
):
    response = admissions_client.get(f"{PATIENTS}{stranger.pk}/change/")

    assert response.status_code == 302
    assert "Quimbyfaraway" not in html(response)
    followed = admissions_client.get(response["Location"])
    assert "Quimbyfaraway" not in html(followed)
    assert not audit_rows(AuditAction.READ, patient_id=stranger.pk).exists()


def test_autocomplete_returns_only_the_users_clinic_patients(
    admissions_client, admissions, clinic, stranger
):
    own = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Anna",
        last_name="Quimbyfaraway",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )

    response = admissions_client.get(
        AUTOCOMPLETE,
        {
            "app_label": "patients",
            "model_name": "assessment",
            "field_name": "patient",
            "term": "Quimbyfaraway",
        },
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(own.pk)]
    assert "Zebulon" not in html(response)


def test_autocomplete_by_date_of_birth_stays_in_the_clinic(admissions_client, alvarez, stranger):
    response = admissions_client.get(
        AUTOCOMPLETE,
        {
            "app_label": "patients",
            "model_name": "consent",
            "field_name": "patient",
            "term": "1984-03-07",
        },
    )

    assert [row["id"] for row in response.json()["results"]] == [str(alvarez.pk)]


def test_adding_a_patient_to_another_clinic_is_refused(admissions_client, other_clinic):
    response = post_patient_add(admissions_client, patient_form(other_clinic))

    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert not Patient.objects.exists()


def test_an_assessment_for_another_clinics_patient_is_refused(clinician_client, stranger):
    response = clinician_client.post(
        f"{ASSESSMENTS}add/",
        {"patient": stranger.pk, "severity": "severe", **RESIDENTIAL, "_save": "Save"},
    )

    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert not Assessment.objects.exists()


# 3. Adding a patient ------------------------------------------------------------------------------


def test_adding_a_patient_creates_it_with_an_mrn_and_an_audit_row(
    admissions_client, admissions, clinic
):
    response = post_patient_add(admissions_client, patient_form(clinic))

    assert response.status_code == 302
    patient = Patient.objects.get()
    assert (patient.clinic, patient.first_name, patient.last_name) == (clinic, "Dana", "Okafor")
    assert patient.date_of_birth == datetime.date(1991, 5, 17)
    assert str(patient.phone) == "+12025550188"
    assert patient.reminder_channels == ["email", "sms"]
    assert patient.reminder_channels_recorded_by == admissions
    assert re.fullmatch(r"\d{7}", patient.mrn)
    assert patient.created_by == admissions
    event = audit_rows(AuditAction.CREATE, object_type="patients.patient").get()
    assert (event.actor, event.clinic, event.patient_id) == (admissions, clinic, patient.pk)
    assert event.object_id == str(patient.pk)


def test_the_admins_log_and_messages_keep_no_patient_name(admissions_client, admissions, clinic):
    """The admin's log (the home page's "Recent actions") outlives the user's access to the
    record, and messages rode in a cookie: neither holds the patient's name or MRN."""
    response = post_patient_add(admissions_client, patient_form(clinic))

    patient = Patient.objects.get()
    assert [entry.object_repr for entry in LogEntry.objects.all()] == [f"Patient #{patient.pk}"]
    assert "messages" not in response.cookies
    cookies = " ".join(cookie.value for cookie in response.cookies.values())
    assert not {"Dana", "Okafor", patient.mrn} & set(re.findall(r"\w+", cookies))
    # The message is shown once, from the session; the home page then names no one.
    landing = admissions_client.get(response["Location"])
    assert "was added successfully" in html(landing)
    home = html(admissions_client.get("/admin/"))
    assert f"Patient #{patient.pk}" in home
    assert "Okafor" not in home
    assert patient.mrn not in home


def test_the_log_entries_written_before_forget_their_names(admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Maria",
        last_name="Alvarez",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    entry = LogEntry.objects.create(
        user=admissions,
        content_type=ContentType.objects.get_for_model(Patient),
        object_id=str(patient.pk),
        object_repr=str(patient),
        action_flag=ADDITION,
    )
    migration = importlib.import_module("patients.migrations.0005_admin_log_without_names")

    migration.forget_names(django_apps, None)

    entry.refresh_from_db()
    assert entry.object_repr == f"Patient #{patient.pk}"


def test_add_form_refuses_a_future_date_of_birth_with_the_services_message(
    admissions_client, clinic
):
    tomorrow_and_more = timezone.localdate() + datetime.timedelta(days=30)

    response = post_patient_add(
        admissions_client, patient_form(clinic, date_of_birth=tomorrow_and_more.isoformat())
    )

    assert response.status_code == 200
    assert "The date of birth cannot be in the future." in html(response)
    assert not Patient.objects.exists()
    assert not audit_rows(AuditAction.CREATE).exists()


def test_add_form_refuses_sms_reminders_without_a_phone(admissions_client, clinic):
    response = post_patient_add(
        admissions_client, patient_form(clinic, phone="", reminder_channels=["sms"])
    )

    assert response.status_code == 200
    assert "SMS reminders need a phone number." in html(response)
    assert not Patient.objects.exists()


def test_add_form_refuses_a_duplicate_unless_allowed(admissions_client, admissions, clinic):
    existing = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Dana",
        last_name="Okafor",
        date_of_birth=datetime.date(1991, 5, 17),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    # Names differ in case and spacing only: still the same person.
    data = patient_form(clinic, first_name=" dana ", last_name="OKAFOR")

    refused = post_patient_add(admissions_client, data)

    assert refused.status_code == 200
    assert escape(
        "A patient with the same names and date of birth is already registered at this clinic."
    ) in html(refused)
    assert list(Patient.objects.all()) == [existing]

    allowed = post_patient_add(admissions_client, {**data, "allow_duplicate": "on"})

    assert allowed.status_code == 302
    twin = Patient.objects.exclude(pk=existing.pk).get()
    # The refused attempt handed its number back: no gap in the clinic's MRNs.
    assert int(twin.mrn) == int(existing.mrn) + 1


def test_the_patient_page_has_no_formsets_that_could_fail_after_the_service_wrote(
    admissions_client, clinic
):
    # The form's clean() registers the patient through the service; related records are shown
    # as read-only tables, so no inline formset can reject the POST after that write.
    assert not PatientAdmin.inlines

    response = admissions_client.post(f"{PATIENTS}add/", {**patient_form(clinic), "_save": "Save"})

    assert response.status_code == 302
    assert Patient.objects.count() == 1
    assert audit_rows(AuditAction.CREATE).count() == 1


# 4. The patient change page and the audit trail ---------------------------------------------------


def test_change_page_shows_contacts_consents_and_assessments_inline(
    admissions_client, admissions, clinician, alvarez
):
    services.contact_create(
        actor=admissions,
        patient=alvarez,
        kind="emergency",
        name="Rosa Delgado",
        relationship="Sister",
        phone="+12025550111",
    )
    ConsentFactory(patient=alvarez, actor=admissions)
    make_assessment(clinician, alvarez, notes="Seen at intake.")

    response = admissions_client.get(f"{PATIENTS}{alvarez.pk}/change/")

    assert response.status_code == 200
    page = html(response)
    for value in [
        "Rosa Delgado",
        "Sister",
        "Harbor County Drug Court",
        "Compliance reporting to the court",
        "End of probation",
        "Residential",
        clinician.username,
        alvarez.mrn,
    ]:
        assert value in page, value


def test_opening_a_patient_writes_a_read_audit_row(admissions_client, admissions, clinic, alvarez):
    admissions_client.get(f"{PATIENTS}{alvarez.pk}/change/")

    event = audit_rows(AuditAction.READ).get()
    assert event.actor == admissions
    assert event.clinic == clinic
    assert event.patient_id == alvarez.pk
    assert (event.object_type, event.object_id) == ("patients.patient", str(alvarez.pk))


def test_the_changelist_writes_a_list_audit_row_per_patient_shown(
    admissions_client, admissions, alvarez, brennan, stranger
):
    admissions_client.get(PATIENTS)

    events = audit_rows(AuditAction.LIST)
    assert {event.patient_id for event in events} == {alvarez.pk, brennan.pk}
    assert all(event.actor == admissions for event in events)
    assert events.count() == 2


def test_editing_a_patient_goes_through_the_service(admissions_client, admissions, alvarez):
    url = f"{PATIENTS}{alvarez.pk}/change/"
    data = {
        **management_forms(admissions_client, url),
        "first_name": "Maria",
        "last_name": "Alvarez",
        "date_of_birth": "1984-03-07",
        "email": "maria.alvarez@example.org",
        "phone": "",
        "reminder_channels": ["sms"],
        "_save": "Save",
    }

    refused = admissions_client.post(url, data)

    assert refused.status_code == 200
    assert "SMS reminders need a phone number." in html(refused)
    alvarez.refresh_from_db()
    assert str(alvarez.phone) == "+12025550143"

    saved = admissions_client.post(url, {**data, "reminder_channels": ["email"]})

    assert saved.status_code == 302
    alvarez.refresh_from_db()
    assert alvarez.reminder_channels == ["email"]
    assert str(alvarez.phone) == ""
    assert audit_rows(AuditAction.UPDATE, patient_id=alvarez.pk).count() == 1


# 5. Assessments -----------------------------------------------------------------------------------


def test_adding_an_assessment_stores_the_recommendation(clinician_client, clinician, alvarez):
    response = clinician_client.post(
        f"{ASSESSMENTS}add/",
        {
            "patient": alvarez.pk,
            "criteria_count": "7",
            "severity": "",
            **RESIDENTIAL,
            "prior_outpatient_relapse": "on",
            "co_occurring": ["depression"],
            "notes": "Intake interview.",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert assessment.patient == alvarez
    assert assessment.assessed_by == clinician
    assert assessment.severity == "severe"
    assert assessment.dimensions == RESIDENTIAL
    assert assessment.prior_outpatient_relapse is True
    assert assessment.co_occurring == ["depression"]
    assert assessment.recommended_level == "residential"
    assert any("Withdrawal risk is high" in sentence for sentence in assessment.rationale)
    assert assessment.decided_level == ""
    assert audit_rows(AuditAction.CREATE, object_type="patients.assessment").count() == 1


def test_assessment_add_form_shows_the_services_message(clinician_client, alvarez):
    response = clinician_client.post(
        f"{ASSESSMENTS}add/",
        {"patient": alvarez.pk, "criteria_count": "2", "severity": "severe", **RESIDENTIAL},
    )

    assert response.status_code == 200
    assert "2 criteria met means mild, not severe." in html(response)
    assert not Assessment.objects.exists()


def test_assessment_page_shows_the_recommendation_beside_the_decision(clinician_client, assessment):
    response = clinician_client.get(f"{ASSESSMENTS}{assessment.pk}/change/")

    assert response.status_code == 200
    page = html(response)
    assert len(assessment.rationale) >= 3
    for sentence in assessment.rationale:
        assert escape(sentence) in page, sentence
    assert "Residential" in page
    # The recommendation is read-only; the decision is a form.
    assert 'name="recommended_level"' not in page
    assert 'name="decided_level"' in page
    assert 'name="override_reason"' in page
    assert page.index(escape(assessment.rationale[0])) < page.index('name="decided_level"')


def test_a_decision_against_the_recommendation_needs_a_reason(clinician_client, assessment):
    url = f"{ASSESSMENTS}{assessment.pk}/change/"

    response = clinician_client.post(
        url, {"decided_level": "php", "decided_track": "", "override_reason": "", "_save": "Save"}
    )

    assert response.status_code == 200
    assert "The decision differs from the recommendation (residential); give the reason." in html(
        response
    )
    assessment.refresh_from_db()
    assert assessment.decided_level == ""
    assert assessment.decided_by is None
    assert not audit_rows(AuditAction.UPDATE).exists()


def test_a_decision_with_a_reason_is_stored(clinician_client, clinician, assessment):
    response = clinician_client.post(
        f"{ASSESSMENTS}{assessment.pk}/change/",
        {
            "decided_level": "php",
            "decided_track": "",
            "override_reason": "Declines residential care; strong family support.",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.decided_level == "php"
    assert assessment.decided_by == clinician
    assert assessment.decided_at is not None
    assert assessment.override_reason == "Declines residential care; strong family support."
    assert audit_rows(AuditAction.UPDATE, object_type="patients.assessment").count() == 1


def test_a_decided_assessment_is_read_only(clinician_client, clinician, assessment):
    services.assessment_decide(actor=clinician, assessment=assessment, decided_level="residential")
    url = f"{ASSESSMENTS}{assessment.pk}/change/"

    page = clinician_client.get(url)

    assert page.status_code == 200
    assert 'name="decided_level"' not in html(page)

    response = clinician_client.post(
        url,
        {
            "decided_level": "outpatient",
            "override_reason": "Changed my mind.",
            "_save": "Save",
        },
    )

    assert response.status_code == 403
    assessment.refresh_from_db()
    assert assessment.decided_level == "residential"
    assert assessment.override_reason == ""


# 6. Role permissions ------------------------------------------------------------------------------


def test_a_supervisor_can_view_patients_but_not_add_them(client, supervisor, clinic, alvarez):
    log_in(client, supervisor)

    listing = client.get(PATIENTS)
    assert listing.status_code == 200
    assert listed(listing) == {alvarez.pk}

    assert client.get(f"{PATIENTS}add/").status_code == 403
    assert client.post(f"{PATIENTS}add/", patient_form(clinic)).status_code == 403
    assert list(Patient.objects.all()) == [alvarez]


def test_a_supervisor_cannot_change_a_patient(client, supervisor, alvarez):
    log_in(client, supervisor)

    response = client.post(
        f"{PATIENTS}{alvarez.pk}/change/",
        {"first_name": "Changed", "last_name": "Alvarez", "date_of_birth": "1984-03-07"},
    )

    assert response.status_code == 403
    alvarez.refresh_from_db()
    assert alvarez.first_name == "Maria"


def test_a_staff_user_without_a_role_gets_403_on_patients(client, user_without_role, alvarez):
    log_in(client, user_without_role)

    response = client.get(PATIENTS)

    assert response.status_code == 403
    assert "Alvarez" not in html(response)
    assert client.get(f"{PATIENTS}{alvarez.pk}/change/").status_code == 403
    assert not audit_rows(AuditAction.LIST).exists()


# 7. Consents --------------------------------------------------------------------------------------


def test_a_consent_without_expiry_is_refused_with_the_services_message(admissions_client, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/",
        {
            "patient": alvarez.pk,
            "discloser": "Riverside Program",
            "information": "Attendance",
            "recipients": "Harbor County Drug Court",
            "purpose": "Compliance reporting",
            "signed_on": "2024-01-15",
            "expires_on": "",
            "expiry_event": "",
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    assert escape("Give an expiry date or an expiry event (42 CFR §2.31).") in html(response)
    assert not Consent.objects.exists()


def test_a_consent_with_an_expiry_event_is_recorded(admissions_client, admissions, alvarez):
    response = admissions_client.post(
        f"{CONSENTS}add/",
        {
            "patient": alvarez.pk,
            "discloser": "Riverside Program",
            "information": "Attendance",
            "recipients": "Harbor County Drug Court",
            "purpose": "Compliance reporting",
            "signed_on": "2024-01-15",
            "expires_on": "",
            "expiry_event": "End of probation",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.patient, consent.recorded_by) == (alvarez, admissions)
    assert consent.expiry_event == "End of probation"
    assert audit_rows(AuditAction.CREATE, object_type="patients.consent").count() == 1


def test_revoking_a_consent_on_its_change_page_sets_revoked_on(
    admissions_client, admissions, alvarez
):
    consent = ConsentFactory(patient=alvarez, actor=admissions)

    response = admissions_client.post(
        f"{CONSENTS}{consent.pk}/change/", {"revoked_on": "2024-06-01", "_save": "Save"}
    )

    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.revoked_on == datetime.date(2024, 6, 1)
    assert audit_rows(AuditAction.UPDATE, object_type="patients.consent").count() == 1


def test_a_revocation_before_signing_is_refused_with_the_services_message(
    admissions_client, admissions, alvarez
):
    consent = ConsentFactory(patient=alvarez, actor=admissions)

    response = admissions_client.post(
        f"{CONSENTS}{consent.pk}/change/", {"revoked_on": "2023-12-31", "_save": "Save"}
    )

    assert response.status_code == 200
    assert "A consent cannot be revoked before it is signed." in html(response)
    consent.refresh_from_db()
    assert consent.revoked_on is None


def test_saving_an_already_revoked_consent_again_is_refused_not_a_server_error(
    admissions_client, admissions, alvarez
):
    consent = ConsentFactory(patient=alvarez, actor=admissions)
    services.consent_revoke(actor=admissions, consent=consent, revoked_on=datetime.date(2024, 6, 1))
    url = f"{CONSENTS}{consent.pk}/change/"
    assert 'name="revoked_on"' not in html(admissions_client.get(url))

    # The page still offers "Save"; pressing it must not fail with a server error.
    response = admissions_client.post(url, {"_save": "Save"})

    assert response.status_code in (200, 302, 403)
    consent.refresh_from_db()
    assert consent.revoked_on == datetime.date(2024, 6, 1)


def test_autocomplete_answers_are_audited_as_a_list(admissions_client, alvarez):
    before = audit_rows(AuditAction.LIST, patient_id=alvarez.pk).count()

    response = admissions_client.get(
        "/admin/autocomplete/?app_label=patients&model_name=assessment&field_name=patient"
        f"&term={alvarez.last_name}"
    )

    assert response.status_code == 200
    assert audit_rows(AuditAction.LIST, patient_id=alvarez.pk).count() == before + 1


def test_opening_a_consent_writes_a_read_audit_row(admissions_client, admissions, alvarez):
    consent = ConsentFactory(patient=alvarez, actor=admissions)

    admissions_client.get(f"{CONSENTS}{consent.pk}/change/")

    row = audit_rows(AuditAction.READ, patient_id=alvarez.pk).get()
    assert row.object_type == "patients.consent"
