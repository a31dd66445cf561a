"""Record versions: no lost updates when two staff edit the same record (issue 20).

A versioned record (``clinic.models.record_version_field``) carries an integer ``version`` that
a database trigger raises on every UPDATE that changes the row. Why a counter and not
``updated_at``: contacts, assessments and goals have no ``updated_at``, and bulk writes
(``bulk_update``, ``QuerySet.update``) skip ``auto_now``; the trigger sees every write.

The API sends it as the ETag ``"<id>-<version>"`` and reads ``If-Match`` back
(``clinic.api.conditional``); the admin posts it in a hidden field. Either way the service
compares it with ``require_version`` *after* locking the row, so of two writes that read the same
version exactly one wins: the second waits for the lock, then sees the new version.
"""

from collections.abc import Collection

from django.db import models

from clinic.errors import PreconditionFailed
from clinic.selectors import audit_last_change


def is_versioned(obj: models.Model) -> bool:
    return any(field.name == "version" for field in obj._meta.concrete_fields)


def etag(obj: models.Model) -> str:
    """The strong entity tag of ``obj``'s current version (RFC 9110 §8.8.3)."""
    return f'"{obj.pk}-{obj.version}"'


def require_version(
    obj: models.Model, expected: Collection[int] | None, *, patient_id: int | None = None
) -> None:
    """Refuse the write unless ``obj`` (locked by the caller) is still at one of the
    ``expected`` versions; ``None`` means the caller stated none (an old client, ``If-Match:
    *``), which is today's last-write-wins. ``patient_id`` narrows the search for who changed
    it last, for the message."""
    if expected is None or obj.version in expected:
        return
    raise PreconditionFailed(stale_message(obj, patient_id=patient_id))


def stale_message(obj: models.Model, *, patient_id: int | None = None) -> str:
    last = audit_last_change(
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        patient_id=patient_id,
        since=getattr(obj, "updated_at", None),
    )
    changed = "This record was changed since you read it"
    if last is not None:
        who = last.actor.get_username() if last.actor is not None else "the system"
        changed = (
            f"This record was changed by {who} at "
            f"{last.occurred_at:%Y-%m-%d %H:%M} UTC since you read it"
        )
    return f"{changed}; reload it and make your change again."


def refresh_version(obj: models.Model) -> models.Model:
    """Read back the version the trigger gave ``obj``'s row, so the caller's ETag is current."""
    obj.refresh_from_db(fields=["version"])
    return obj
