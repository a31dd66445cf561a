"""What the modules of admin/ share: constants and helpers."""

from clinic.models import AuditEvent
from patients import services
from tests.factories import admin_login

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


def consent_form(patient, **overrides):
    """A consent with every §2.31 element, as the add form posts it."""
    data = {
        "patient": str(patient.pk),
        "discloser": "Riverside Program",
        "recipient_names": "Harbor County Drug Court",
        "purposes": ["other"],
        "purpose_other": "Compliance reporting",
        "categories": ["attendance"],
        "information": "Attendance",
        "revocation_how": "In writing to the privacy officer, at any time.",
        "signed_on": "2024-01-15",
        "expires_on": "",
        "expiry_event": "End of probation",
        "signer_relation": "",
        "signer_name": "",
        "treatment_conditioned": "no",
        "_save": "Save",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def audit_rows(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)
