"""The caller's notes due as an admin page: the same list as ``notes-due/``
(``programs.selectors.notes_due``, by deadline, late ones flagged), and for supervisors each
clinician's counts (``notes_due_summary``). It names patients, so each view is audited note by
note, and it is never cached."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from clinic.api.mixins import never_cache_privately
from clinic.models import AuditAction
from clinic.selectors import user_has_role
from clinic.services import audit_record_many
from programs import selectors
from programs.api.notes_due import NOTES_DUE_ROLES

# The page shows this many notes, the most pressing first (the API pages through all).
NOTES_DUE_PAGE_SIZE = 200


def notes_due_view(request):
    user = request.user
    if not (user.is_superuser or user_has_role(user, *NOTES_DUE_ROLES)):
        raise PermissionDenied
    now = timezone.now()
    notes = list(selectors.notes_due(user=user, now=now)[:NOTES_DUE_PAGE_SIZE])
    audit_record_many(
        actor=user,
        action=AuditAction.LIST,
        objects=notes,
        patient_id_of=lambda note: note.patient_id,
        clinic_id_of=lambda note: note.session.clinic_id,
    )
    context = {
        **admin.site.each_context(request),
        "title": "Notes due",
        "notes": notes,
        "page_size": NOTES_DUE_PAGE_SIZE,
        "by_clinician": selectors.notes_due_summary(user=user, now=now),
    }
    return never_cache_privately(
        TemplateResponse(request, "admin/programs/notes_due.html", context)
    )
