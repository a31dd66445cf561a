"""Reads of the clinic app, scoped to the caller."""

from django.contrib.auth import get_user_model
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from clinic.models import AuditEvent, Clinic, Role, StaffAlert


def user_roles(user) -> set[str]:
    """The staff roles of ``user`` (group names), cached on the user object for the request."""
    if not user.is_authenticated:
        return set()
    if not hasattr(user, "_continuum_roles"):
        names = {role.value for role in Role}
        user._continuum_roles = set(
            user.groups.filter(name__in=names).values_list("name", flat=True)
        )
    return user._continuum_roles


def user_has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def clinic_ids_for_user(user) -> list[int]:
    """Ids of the clinics whose data ``user`` may see: superusers all, staff their memberships."""
    if not user.is_authenticated:
        return []
    if not hasattr(user, "_continuum_clinic_ids"):
        if user.is_superuser:
            user._continuum_clinic_ids = list(Clinic.objects.values_list("id", flat=True))
        else:
            user._continuum_clinic_ids = list(
                user.clinic_memberships.values_list("clinic_id", flat=True)
            )
    return user._continuum_clinic_ids


# Every staff role: who reads the clinic's records in the API and the admin.
STAFF_ROLES = (
    Role.ADMISSIONS,
    Role.CLINICIAN,
    Role.SUPERVISOR,
    Role.UTILIZATION_REVIEW,
    Role.ALUMNI_COORDINATOR,
)
# Who treats patients: a primary clinician, a session's facilitator. Admissions staff do not.
CLINICAL_ROLES = (Role.CLINICIAN, Role.SUPERVISOR)


def clinic_staff(*, clinic_ids, roles=CLINICAL_ROLES) -> QuerySet:
    """Users who work at one of ``clinic_ids`` (a membership) and hold one of ``roles``: the
    one home for "who is staff of this clinic with this role"."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=list(roles), clinic_memberships__clinic_id__in=clinic_ids)
        .distinct()
    )


def is_clinic_staff(user, *, clinic_id: int, roles=CLINICAL_ROLES) -> bool:
    return clinic_staff(clinic_ids=[clinic_id], roles=roles).filter(pk=user.pk).exists()


def acts_for_clinic(user, *, clinic_id: int, roles=CLINICAL_ROLES) -> bool:
    """May ``user`` do the work of ``roles`` at the clinic: its staff with one of them, or a
    superuser (who is no one's primary clinician, hence apart from ``is_clinic_staff``)."""
    if user is None or not user.is_authenticated:
        return False
    return user.is_superuser or is_clinic_staff(user, clinic_id=clinic_id, roles=roles)


def clinic_list(*, user) -> QuerySet[Clinic]:
    return Clinic.objects.filter(id__in=clinic_ids_for_user(user)).order_by("name")


def audit_event_list(*, user) -> QuerySet[AuditEvent]:
    """Supervisors (and superusers) read the audit trail of their clinics."""
    if not (user.is_superuser or user_has_role(user, Role.SUPERVISOR)):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.select_related("actor")
    if user.is_superuser:
        return events
    return events.filter(clinic_id__in=clinic_ids_for_user(user))


def alert_list_for(user) -> QuerySet[StaffAlert]:
    """Alerts of the caller's clinics addressed to the caller by name or to one of the caller's
    roles (an alert may name both: a safety alert reaches its clinician and the supervisors)."""
    if not user.is_authenticated:
        return StaffAlert.objects.none()
    addressed = Q(recipient=user) | Q(recipient_role__in=user_roles(user))
    return StaffAlert.objects.filter(addressed, clinic_id__in=clinic_ids_for_user(user))


def audit_last_change(
    *, object_type: str, object_id, patient_id: int | None = None, since=None
) -> AuditEvent | None:
    """The latest create or update audit row of one record: who changed it last, and when.

    The audit table has no index on the object, so the caller narrows the search by an indexed
    column it knows: the record's patient, or ``since`` (its ``updated_at``, which its last
    change set just before that change's audit row was written)."""
    events = AuditEvent.objects.filter(
        object_type=object_type, object_id=str(object_id), action__in=["create", "update"]
    )
    if patient_id is not None:
        events = events.filter(patient_id=patient_id)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    return events.select_related("actor").order_by("-occurred_at", "-id").first()


def alert_raised_for(kind: str, model) -> Exists:
    """For a queryset of ``model``: its row (``OuterRef("pk")``) has had an alert of ``kind``
    (the alerts raised once per thing to act on, so a scan skips what it alerted before)."""
    return Exists(
        StaffAlert.objects.filter(
            kind=kind,
            object_type=model._meta.label_lower,
            object_id=Cast(OuterRef("pk"), CharField()),
        )
    )
