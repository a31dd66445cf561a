"""The UR queue as an admin board: the same sections as ``ur/queue/`` (``programs.selectors
.ur_queue``, the caller's clinics, each by its own today) as tables, for utilization review and
supervisors. The board names patients, so each view of it is audited record by record, and it
is never cached.

Each row links to its authorization's admin page (an enrollment without an authorization: to
the enrollment's).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from clinic.api.mixins import never_cache_privately
from clinic.models import AuditAction
from clinic.selectors import user_has_role
from clinic.services import audit_record_many
from programs import selectors
from programs.api.ur_queue import ur_queue_rows
from programs.services.authorizations import UR_QUEUE_ROLES

SECTIONS = (
    ("reviews_past_due", "Reviews past due", "reviews"),
    ("reviews_due_today", "Reviews due today", "reviews"),
    ("reviews_due_tomorrow", "Reviews due tomorrow", "reviews"),
    ("authorizations_ending", "Authorizations ending soon", "authorizations"),
    ("authorizations_units_low", "Authorizations with few units left", "authorizations"),
    (
        "enrollments_without_authorization",
        "Covered stays without an authorization",
        "enrollments",
    ),
)


def _link(row: dict, kind: str) -> str:
    if kind == "enrollments":
        return reverse("admin:programs_enrollment_change", args=[row["enrollment"]])
    authorization = row["authorization"] if kind == "reviews" else row["id"]
    return reverse("admin:programs_authorization_change", args=[authorization])


def ur_queue_view(request):
    user = request.user
    if not (user.is_superuser or user_has_role(user, *UR_QUEUE_ROLES)):
        raise PermissionDenied
    queue = selectors.ur_queue(user=user, now=timezone.now())
    audit_record_many(
        actor=user,
        action=AuditAction.LIST,
        objects=selectors.ur_queue_records(queue),
        patient_id_of=lambda record: selectors.ur_queue_stay(record).patient_id,
        clinic_id_of=lambda record: selectors.ur_queue_stay(record).program.clinic_id,
    )
    rows = ur_queue_rows(queue)
    sections = [
        {
            "name": name,
            "title": title,
            "kind": kind,
            "rows": [{**row, "link": _link(row, kind)} for row in rows[name]],
        }
        for name, title, kind in SECTIONS
    ]
    context = {
        **admin.site.each_context(request),
        "title": "UR queue",
        "sections": sections,
    }
    return never_cache_privately(TemplateResponse(request, "admin/programs/ur_queue.html", context))
