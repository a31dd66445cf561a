"""Writes of the clinic app: the audit trail (written only through ``audit_record*``, by every
app), clinics' configuration records and staff alerts here; the alert e-mails' outbox in
``alert_delivery``, revoking refresh tokens in ``tokens``, the single-process leases in
``leases``."""

import datetime
from collections.abc import Callable, Iterable

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.middleware import current_request_id
from clinic.models import COALESCING_ALERT_KINDS, AuditAction, AuditEvent, Clinic, StaffAlert
from clinic.sql import Table, statement


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
    patient: models.Model | None = None,
) -> AuditEvent:
    """Append one audit row for ``actor`` doing ``action`` on ``obj`` (or a listing of a type).

    ``patient``: the patient whose record it is (anything with ``pk`` and ``clinic_id``); it
    sets ``patient_id`` and ``clinic``, so callers holding the patient pass only that."""
    if patient is not None:
        patient_id = patient.pk
        clinic = patient.clinic_id if clinic is None else clinic
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
) -> None:
    """One audit row per object in a single INSERT (a list page of patient records)."""
    by_type: dict[str, list] = {}
    for obj in objects:
        by_type.setdefault(_object_type(obj), []).append(
            (obj.pk, clinic_id_of(obj), patient_id_of(obj))
        )
    for object_type, rows in by_type.items():
        audit_record_rows(actor=actor, action=action, object_type=object_type, rows=rows)


_AUDIT_ROWS_SQL = statement(
    """
INSERT INTO {e} ({e.actor_id}, {e.action}, {e.object_type}, {e.object_id}, {e.clinic_id},
                 {e.patient_id}, {e.request_id}, {e.occurred_at})
SELECT %s, %s, %s, o.object_id, o.clinic_id, o.patient_id, %s, %s
FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS o(object_id, clinic_id, patient_id)
""",
    e=Table(AuditEvent),
)


def audit_record_rows(
    *, actor, action: AuditAction, object_type: str, rows: Iterable[tuple[object, int, int]]
) -> None:
    """One audit row per ``(object id, clinic id, patient id)`` of ``object_type`` (a model's
    ``app_label.model``) in a single set-based INSERT: for list pages read as ``.values()`` rows
    rather than model instances, and cheaper than building a model instance per row."""
    rows = list(rows)
    if not rows:
        return
    if actor is not None and not actor.is_authenticated:
        actor = None
    object_ids, clinic_ids, patient_ids = zip(*rows, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            _AUDIT_ROWS_SQL,
            [
                actor.pk if actor is not None else None,
                action.value if isinstance(action, AuditAction) else action,
                object_type,
                current_request_id(),
                timezone.now(),
                [str(object_id) for object_id in object_ids],
                [c.pk if isinstance(c, Clinic) else c for c in clinic_ids],
                list(patient_ids),
            ],
        )


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


@transaction.atomic
def clinic_config_save(
    *,
    actor,
    record: models.Model,
    fields: Iterable[str] | None = None,
    related: dict[str, Iterable] | None = None,
) -> models.Model:
    """Create or change one configuration record of a clinic (a bed, a program: no patient data
    and no state machine, so no other service owns it). Validated with its model's constraints,
    so a violation is a ValidationError rather than an IntegrityError; a change saves only
    ``fields`` (and sets the many-to-many ``related``); audited as ``actor``'s create or update.
    ``record`` carries the new values and its ``clinic_id``."""
    created = record._state.adding
    if not created:
        # Locked: a concurrent save of the same record waits, then this one validates after it.
        type(record)._default_manager.select_for_update().filter(pk=record.pk).exists()
    # Every field, also those the caller did not change: a constraint over the clinic (a
    # unique name) must be checked on a change too.
    record.full_clean()
    if created:
        record.save()
    else:
        record.save(update_fields=list(fields) if fields is not None else None)
    for name, values in (related or {}).items():
        getattr(record, name).set(values)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        obj=record,
        clinic=record.clinic_id,
    )
    return record


@transaction.atomic
def clinic_settings_save(*, actor, clinic: Clinic, fields: Iterable[str]) -> Clinic:
    """Create a clinic, or save the settings changed in ``fields`` (its names, zone, quiet
    hours, thresholds, crisis text): validated, audited as ``actor``'s create or update."""
    created = clinic._state.adding
    clinic.full_clean()
    clinic.save(update_fields=None if created else list(fields))
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        obj=clinic,
        clinic=clinic.pk,
    )
    return clinic


def clinic_membership_changes_audit(*, actor, created=(), changed=(), deleted=()) -> None:
    """Audit who was given or lost access to a clinic (memberships saved by the admin)."""
    for action, memberships in (
        (AuditAction.CREATE, created),
        (AuditAction.UPDATE, changed),
        (AuditAction.DELETE, deleted),
    ):
        for membership in memberships:
            audit_record(actor=actor, action=action, obj=membership, clinic=membership.clinic_id)


def alert_object_id(subject: models.Model, occasion: str = "") -> str:
    """How an alert names its subject (and the occasion, for a subject alerted once per one)."""
    return f"{subject.pk}@{occasion}" if occasion else str(subject.pk)


@transaction.atomic
def alert_raise(
    *,
    clinic_id: int,
    kind: str,
    subject: models.Model,
    message: str,
    recipient=None,
    recipient_role: str = "",
    patient_id: int | None = None,
    now: datetime.datetime | None = None,
    occurrence_message: Callable[[int], str] | None = None,
    occasion: str = "",
):
    """Raise an alert about ``subject`` once: a second call for the same subject and kind is a
    no-op (the unique constraint decides, so concurrent callers cannot both raise it).

    ``occasion``: a subject alerted once per occasion rather than once ever (an inquiry, once
    per overdue next-contact date); the alert's ``object_id`` is then ``"<pk>@<occasion>"``.

    For ``COALESCING_ALERT_KINDS`` a patient has at most one open (unacknowledged) alert of the
    kind: a new subject while it is open attaches to it (``occurrences`` + 1,
    ``last_occurred_at``, the message ``occurrence_message(occurrences)``) and e-mails no one
    again; once acknowledged, the next subject raises a new alert. The alert names only its
    first subject: remembering which later ones attached is the caller's (a check-in keeps its
    alert), so re-raising one of those is the caller's to skip."""
    from clinic.services import alert_delivery

    now = now or timezone.now()
    coalesces = kind in COALESCING_ALERT_KINDS and patient_id is not None
    object_id = alert_object_id(subject, occasion)

    def raised_already():
        alert = StaffAlert.objects.filter(
            kind=kind, object_type=_object_type(subject), object_id=object_id
        ).first()
        if alert is None and coalesces:
            # Locked: occurrences that concurrent raises attach add up.
            alert = (
                StaffAlert.objects.select_for_update()
                .filter(kind=kind, patient_id=patient_id, acknowledged_at__isnull=True)
                .first()
            )
            if alert is not None:
                alert = _alert_attach(alert, now=now, occurrence_message=occurrence_message)
        return alert

    alert = raised_already()
    if alert is not None:
        return alert
    try:
        with transaction.atomic():
            alert = StaffAlert.objects.create(
                kind=kind,
                object_type=_object_type(subject),
                object_id=object_id,
                clinic_id=clinic_id,
                message=message,
                recipient=recipient,
                recipient_role=recipient_role,
                patient_id=patient_id,
                created_at=now,
                last_occurred_at=now,
            )
    except IntegrityError:
        # Raised meanwhile by a concurrent call, for this subject or (a coalescing kind) this
        # patient: found now that it is committed.
        alert = raised_already()
        if alert is None:
            raise
        return alert
    # One e-mail per recipient, sent by the beat task (never enqueued from here: a stopped
    # broker must not break the write that raised the alert).
    alert_delivery.plan(alert)
    return alert


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


def _alert_attach(alert, *, now, occurrence_message):
    alert.occurrences += 1
    alert.last_occurred_at = now
    fields = ["occurrences", "last_occurred_at"]
    if occurrence_message is not None:
        alert.message = occurrence_message(alert.occurrences)[:300]
        fields.append("message")
    alert.save(update_fields=fields)
    return alert
