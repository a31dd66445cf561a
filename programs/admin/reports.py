"""The census, the step-down board, the outcomes report and the continuity report as admin
pages (server-rendered tables and SVG charts).

They read the same selectors as `reports/census/`, `reports/step-down/`, `reports/outcomes/`
and `reports/continuity/`, scoped to the staff member's clinics; the board names patients, so
each view of it is audited row by row; the outcomes report is counts only; the continuity
report names its patients to supervisors alone, audited likewise. Like the API's, they read
from the replica while it is fresh (clinic.replica).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone

from clinic.api.mixins import never_cache_privately
from clinic.models import AuditAction
from clinic.replica import replica_reads
from clinic.selectors import STAFF_ROLES, user_has_role
from clinic.services import audit_record_many, audit_record_rows
from programs import (
    charts,
    reports,
    reports_admissions,
    reports_continuity,
    reports_outcomes,
    selectors,
)
from programs.models import Enrollment

BOARD_PAGE_SIZE = 200


class CensusForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _require_staff(request):
    user = request.user
    if not (user.is_superuser or user_has_role(user, *STAFF_ROLES)):
        raise PermissionDenied


@replica_reads()
def census_view(request):
    _require_staff(request)
    form = CensusForm(request.GET or None)
    start = end = None
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    programs = list(reports.census_programs(user=request.user).select_related("clinic"))
    error = None
    rows = []
    try:
        start, end = reports.census_range(user=request.user, start=start, end=end)
        reports.census_range_check(start, end)
        rows = reports.census(user=request.user, start=start, end=end, programs_queryset=programs)
    except ValidationError as refusal:
        error = " ".join(
            message for messages in refusal.message_dict.values() for message in messages
        )
    beds = selectors.bed_board(user=request.user)
    occupied = [entry["assignment"].enrollment for entry in beds if entry["assignment"]]
    # The bed board names the patients in the beds.
    audit_record_many(
        actor=request.user,
        action=AuditAction.LIST,
        objects=occupied,
        patient_id_of=lambda e: e.patient_id,
        clinic_id_of=lambda e: e.program.clinic_id,
    )
    for row in rows:
        row["chart"] = charts.occupancy_chart(row)
    context = {
        **admin.site.each_context(request),
        "title": "Census",
        "form": form,
        "start": start,
        "end": end,
        "rows": rows,
        "error": error,
        "beds": beds,
        "beds_free": sum(1 for entry in beds if not (entry["assignment"] or entry["hold"])),
        "beds_held": sum(1 for entry in beds if entry["hold"] and not entry["assignment"]),
    }
    return never_cache_privately(TemplateResponse(request, "admin/programs/census.html", context))


@replica_reads()
def step_down_view(request):
    _require_staff(request)
    flag = request.GET.get("flag") or None
    if flag not in (None, *reports.FLAGS):
        flag = None
    now = timezone.now()
    enrollments = list(
        reports.step_down_queryset(user=request.user, flag=flag, now=now)[:BOARD_PAGE_SIZE]
    )
    audit_record_many(
        actor=request.user,
        action=AuditAction.LIST,
        objects=enrollments,
        patient_id_of=lambda e: e.patient_id,
        clinic_id_of=lambda e: e.program.clinic_id,
    )
    programs = {e.program_id: e.program for e in enrollments}
    rows = [
        {**row, "program_name": programs[row["program"]].name}
        for row in reports.step_down_rows(enrollments, now=now)
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Step-down board",
        "rows": rows,
        "chart": charts.step_down_chart(rows),
        "flags": reports.FLAGS,
        "flag": flag,
        "limit": BOARD_PAGE_SIZE,
    }
    return never_cache_privately(
        TemplateResponse(request, "admin/programs/step_down.html", context)
    )


class OutcomesReportForm(forms.Form):
    start = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "month"}), label="From"
    )
    end = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "month"}), label="To"
    )


@replica_reads()
def outcomes_report_view(request):
    """Clinicians and supervisors read it, as ``reports/outcomes/``."""
    user = request.user
    if not (user.is_superuser or user_has_role(user, *reports_outcomes.OUTCOMES_REPORT_ROLES)):
        raise PermissionDenied
    form = OutcomesReportForm(request.GET or None)
    report, error = None, None
    try:
        months = {}
        if form.is_valid():
            for name in ("start", "end"):
                if form.cleaned_data[name]:
                    months[name] = reports_admissions.Month.parse(form.cleaned_data[name], name)
        start, end = reports_admissions.admissions_report_range(user=user, **months)
        report = reports_outcomes.outcomes_report(user=user, start=start, end=end)
    except ValidationError as refusal:
        error = " ".join(
            message for messages in refusal.message_dict.values() for message in messages
        )
    context = {
        **admin.site.each_context(request),
        "title": "Outcomes report",
        "form": form,
        "report": report,
        "error": error,
        "chart": charts.outcomes_chart(report["months"]) if report else "",
    }
    return never_cache_privately(
        TemplateResponse(request, "admin/programs/outcomes_report.html", context)
    )


@replica_reads()
def continuity_report_view(request):
    """Every staff role reads the figures, supervisors the patients too, as
    ``reports/continuity/``."""
    _require_staff(request)
    user = request.user
    form = OutcomesReportForm(request.GET or None)
    report, error = None, None
    try:
        months = {}
        if form.is_valid():
            for name in ("start", "end"):
                if form.cleaned_data[name]:
                    months[name] = reports_admissions.Month.parse(form.cleaned_data[name], name)
        start, end = reports_admissions.admissions_report_range(user=user, **months)
        report = reports_continuity.continuity_report(
            user=user, start=start, end=end, now=timezone.now()
        )
    except ValidationError as refusal:
        error = " ".join(
            message for messages in refusal.message_dict.values() for message in messages
        )
    if report:
        audit_record_rows(
            actor=user,
            action=AuditAction.LIST,
            object_type=Enrollment._meta.label_lower,
            rows=reports_continuity.listed_stays(report),
        )
    context = {
        **admin.site.each_context(request),
        "title": "Continuity after discharge",
        "form": form,
        "report": report,
        "error": error,
        "chart": charts.continuity_chart(report["months"]) if report else "",
    }
    return never_cache_privately(
        TemplateResponse(request, "admin/programs/continuity_report.html", context)
    )
