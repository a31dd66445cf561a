"""The admissions desk's boards in the admin (issue 28, item 6): the inquiry board, a kanban-like
table of the open inquiries by stage with today's scheduled admissions and the held beds
(``selectors.inquiry_board``), and the admissions report with its chart
(``programs.reports_admissions``).

Both are scoped to the staff member's clinics and never cached. The board names people, so each
view of it is audited inquiry by inquiry; the report is counts only.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone

from clinic.api.mixins import never_cache_privately
from clinic.models import AuditAction
from clinic.selectors import STAFF_ROLES, user_has_role
from clinic.services import audit_record_many
from programs import charts, reports_admissions, selectors
from programs.services.inquiries import ADMISSIONS_REPORT_ROLES


def _require(request, roles):
    user = request.user
    if not (user.is_superuser or user_has_role(user, *roles)):
        raise PermissionDenied


def inquiry_board_view(request):
    """Every staff role of the clinic reads the board, as it reads the inquiries."""
    _require(request, STAFF_ROLES)
    board = selectors.inquiry_board(user=request.user, now=timezone.now())
    shown = {inquiry.pk: inquiry for column in board["columns"] for inquiry in column["inquiries"]}
    for hold in [*board["admissions_today"], *board["held_beds"]]:
        shown.setdefault(hold.inquiry_id, hold.inquiry)
    audit_record_many(
        actor=request.user,
        action=AuditAction.LIST,
        objects=list(shown.values()),
        patient_id_of=lambda inquiry: inquiry.patient_id,
        clinic_id_of=lambda inquiry: inquiry.clinic_id,
    )
    context = {
        **admin.site.each_context(request),
        "title": "Admissions board",
        **board,
        "overdue": sum(column["overdue"] for column in board["columns"]),
    }
    return never_cache_privately(
        TemplateResponse(request, "admin/programs/inquiry_board.html", context)
    )


class AdmissionsReportForm(forms.Form):
    start = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "month"}), label="From"
    )
    end = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "month"}), label="To"
    )


def admissions_report_view(request):
    _require(request, ADMISSIONS_REPORT_ROLES)
    form = AdmissionsReportForm(request.GET or None)
    report, error = None, None
    try:
        months = {}
        if form.is_valid():
            for name in ("start", "end"):
                if form.cleaned_data[name]:
                    months[name] = reports_admissions.Month.parse(form.cleaned_data[name], name)
        start, end = reports_admissions.admissions_report_range(user=request.user, **months)
        report = reports_admissions.admissions_report(user=request.user, start=start, end=end)
    except ValidationError as refusal:
        error = " ".join(
            message for messages in refusal.message_dict.values() for message in messages
        )
    context = {
        **admin.site.each_context(request),
        "title": "Admissions report",
        "form": form,
        "report": report,
        "error": error,
        "chart": charts.admissions_chart(report["months"]) if report else "",
    }
    return never_cache_privately(
        TemplateResponse(request, "admin/programs/admissions_report.html", context)
    )
