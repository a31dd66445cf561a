"""Staff alerts: who sees which, and acknowledging one. Alerts are raised by the apps above
(``clinic.services.alert_raise``); this module serves them back to the people they are for."""

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AuditAction, StaffAlert
from clinic.selectors import clinic_ids_for_user, user_roles
from clinic.services import audit_record


def alert_list_for(user) -> QuerySet[StaffAlert]:
    """Alerts of the caller's clinics addressed to the caller by name, or to one of the
    caller's roles when they name no one."""
    if not user.is_authenticated:
        return StaffAlert.objects.none()
    addressed = Q(recipient=user) | Q(recipient__isnull=True, recipient_role__in=user_roles(user))
    return StaffAlert.objects.filter(addressed, clinic_id__in=clinic_ids_for_user(user))


@transaction.atomic
def alert_acknowledge(*, actor, alert: StaffAlert) -> StaffAlert:
    """Mark the alert as seen and acted on, once: a second acknowledgement is refused."""
    now = timezone.now()
    # Compare-and-set: of two people acknowledging at once, exactly one wins.
    claimed = StaffAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=actor
    )
    if not claimed:
        raise Conflict("This alert was already acknowledged.", code="already_acknowledged")
    alert = StaffAlert.objects.get(pk=alert.pk)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=alert,
        clinic=alert.clinic_id,
        patient_id=alert.patient_id,
    )
    return alert
