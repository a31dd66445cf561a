"""A clinic's settings and its staff's access, changed in the admin, are audited."""

from django.contrib.auth import get_user_model

from clinic.models import AuditEvent, ClinicMembership
from tests.factories import staff_user
from tests.programs.admin.helpers import log_in


def _form(clinic, **changes) -> dict:
    data = {
        "name": clinic.name,
        "public_name": clinic.public_name,
        "time_zone": clinic.time_zone,
        "quiet_hours_start": clinic.quiet_hours_start.strftime("%H:%M"),
        "quiet_hours_end": clinic.quiet_hours_end.strftime("%H:%M"),
        "ur_ending_within_days": clinic.ur_ending_within_days,
        "ur_units_left_below": clinic.ur_units_left_below,
        "crisis_text": clinic.crisis_text,
        "follow_up_assignment": clinic.follow_up_assignment,
        "alumni_access_days": clinic.alumni_access_days,
        "note_format": clinic.note_format,
        "note_late_hours": clinic.note_late_hours,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_a_changed_crisis_text_and_a_new_member_are_audited(client, clinic):
    root = get_user_model().objects.create_superuser("root-admin", password="x")
    ClinicMembership.objects.create(user=root, clinic=clinic)
    newcomer = staff_user(role="clinician", username="newcomer")
    log_in(client, root)
    url = f"/admin/clinic/clinic/{clinic.pk}/change/"
    initial = ClinicMembership.objects.filter(clinic=clinic).count()
    rows = list(ClinicMembership.objects.filter(clinic=clinic).order_by("pk"))
    form = _form(
        clinic,
        crisis_text="Call the clinic's on-call line, or 988.",
        **{
            "memberships-TOTAL_FORMS": str(initial + 1),
            "memberships-INITIAL_FORMS": str(initial),
            **{f"memberships-{i}-id": str(m.pk) for i, m in enumerate(rows)},
            **{f"memberships-{i}-clinic": str(clinic.pk) for i in range(initial + 1)},
            **{f"memberships-{i}-user": str(m.user_id) for i, m in enumerate(rows)},
            f"memberships-{initial}-user": str(newcomer.pk),
        },
    )

    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    clinic.refresh_from_db()
    assert clinic.crisis_text == "Call the clinic's on-call line, or 988."
    events = AuditEvent.objects.filter(actor=root)
    assert events.filter(
        action="update", object_type="clinic.clinic", object_id=str(clinic.pk), clinic=clinic
    ).exists()
    membership = ClinicMembership.objects.get(user=newcomer, clinic=clinic)
    assert events.filter(
        action="create", object_type="clinic.clinicmembership", object_id=str(membership.pk)
    ).exists()


def test_an_invalid_time_zone_is_refused_and_nothing_is_audited(client, clinic):
    root = get_user_model().objects.create_superuser("root-admin", password="x")
    ClinicMembership.objects.create(user=root, clinic=clinic)
    log_in(client, root)

    response = client.post(
        f"/admin/clinic/clinic/{clinic.pk}/change/", _form(clinic, time_zone="Mars/Olympus")
    )

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(actor=root, object_type="clinic.clinic").exists()
