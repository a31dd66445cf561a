"""What the modules of admin/ share: constants and helpers."""

from django.contrib.messages import get_messages

from clinic.models import AuditEvent
from programs.services import enrollments as services
from tests.factories import admin_login

ENROLLMENTS = "/admin/programs/enrollment/"
PROGRAMS = "/admin/programs/program/"
TRANSITIONS = "/admin/programs/transition/"
BEDS = "/admin/clinic/bed/"


# Helpers ------------------------------------------------------------------------------------------


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def enroll(actor, patient, program, start_date=None, **kwargs):
    return services.enrollment_create(
        actor=actor,
        patient=patient,
        program=program,
        start_date=start_date or program.clinic.today(),
        **kwargs,
    )


def html(response) -> str:
    return response.content.decode()


def message_texts(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def audit_rows(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)


def change_url(enrollment) -> str:
    return f"{ENROLLMENTS}{enrollment.pk}/change/"


# 1. Admissions through the add form ---------------------------------------------------------------


def enrollment_form(patient, program, **overrides):
    data = {
        "patient": str(patient.pk),
        "program": str(program.pk),
        "start_date": program.clinic.today().isoformat(),
        "planned_end_date": "",
        "primary_clinician": "",
        "assessment": "",
        "priority": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return data


# 4. Transitions -----------------------------------------------------------------------------------


def transition_form(program, **overrides):
    data = {
        "to_program": str(program.pk),
        "date": program.clinic.today().isoformat(),
        "kind": "step_down",
        "reason": "Stable after detox; ready for evening IOP.",
        "assessment": "",
    }
    data.update(overrides)
    return data


# 10. Programs -------------------------------------------------------------------------------------


def program_form(clinic, **overrides):
    data = {
        "clinic": str(clinic.pk),
        "name": "Harbor IOP",
        "level": "iop",
        "track": "day",
        "capacity": "12",
        "waitlist_offer_hours": "48",
        "is_active": "on",
        "_save": "Save",
    }
    data.update(overrides)
    return data
