"""Writes of the clinic app. The audit trail is written only through ``audit_record*``."""

from collections.abc import Iterable

from django.db import models

from clinic.middleware import current_request_id
from clinic.models import AuditAction, AuditEvent, Clinic


def _object_type(obj: models.Model | type[models.Model]) -> str:
    return obj._meta.label_lower


def audit_record(
    *,
    actor,
    action: AuditAction,
    obj: models.Model | None = None,
    object_type: str = "",
    clinic: Clinic | int | None = None,
    patient_id: int | None = None,
) -> AuditEvent:
    """Append one audit row for ``actor`` doing ``action`` on ``obj`` (or a listing of a type)."""
    return AuditEvent.objects.create(
        **_audit_fields(
            actor=actor,
            action=action,
            obj=obj,
            object_type=object_type,
            clinic=clinic,
            patient_id=patient_id,
        )
    )


def audit_record_many(
    *, actor, action: AuditAction, objects: Iterable[models.Model], patient_id_of, clinic_id_of
) -> list[AuditEvent]:
    """One audit row per object in a single INSERT (a list page of patient records)."""
    rows = [
        AuditEvent(
            **_audit_fields(
                actor=actor,
                action=action,
                obj=obj,
                clinic=clinic_id_of(obj),
                patient_id=patient_id_of(obj),
            )
        )
        for obj in objects
    ]
    return AuditEvent.objects.bulk_create(rows)


def _audit_fields(*, actor, action, obj=None, object_type="", clinic=None, patient_id=None):
    if actor is not None and not actor.is_authenticated:
        actor = None
    return {
        "actor": actor,
        "action": action,
        "object_type": _object_type(obj) if obj is not None else object_type,
        "object_id": str(obj.pk) if obj is not None else "",
        "clinic_id": clinic.pk if isinstance(clinic, Clinic) else clinic,
        "patient_id": patient_id,
        "request_id": current_request_id(),
    }


def alert_raise(
    *,
    clinic_id: int,
    kind: str,
    subject: models.Model,
    message: str,
    recipient=None,
    recipient_role: str = "",
    patient_id: int | None = None,
):
    """Raise an alert about ``subject`` once: a second call for the same subject and kind is a
    no-op (the unique constraint decides, so concurrent callers cannot both raise it)."""
    from clinic import alert_delivery
    from clinic.models import StaffAlert

    alert, created = StaffAlert.objects.get_or_create(
        kind=kind,
        object_type=_object_type(subject),
        object_id=str(subject.pk),
        defaults={
            "clinic_id": clinic_id,
            "message": message,
            "recipient": recipient,
            "recipient_role": recipient_role,
            "patient_id": patient_id,
        },
    )
    if created:
        # One e-mail per recipient, sent by the beat task (never enqueued from here: a stopped
        # broker must not break the write that raised the alert).
        alert_delivery.plan(alert)
    return alert
