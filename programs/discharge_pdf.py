"""The discharge summary as a PDF (WeasyPrint, from programs/templates/programs/
discharge_summary.html).

Two copies: the staff copy (for the chart, and for anyone the clinic sends it to) carries the
§2.32 notice in every page's header and the staff notes; the patient's copy is their own record,
so it has no redisclosure notice and never the staff notes. WeasyPrint is imported when a PDF is
made, not when the app starts: a machine without pango still serves everything else, and a
download there is a clear 503.
"""

import datetime

from django.template.loader import render_to_string
from django.utils import timezone

from clinic.errors import ServiceError
from patients.models import Level
from programs.models import DischargeSummary, TransitionKind
from programs.part2 import PART2_NOTICE

STAFF_COPY = "staff"
PATIENT_COPY = "patient"


class PdfUnavailable(ServiceError):
    status_code = 503
    default_code = "pdf_unavailable"


def pdf_filename(summary: DischargeSummary) -> str:
    """Names the document, never the patient (a download folder or mail attachment shows it)."""
    return f"discharge-summary-{summary.pk}.pdf"


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _context(summary: DischargeSummary, *, copy: str, now: datetime.datetime) -> dict:
    clinic = summary.enrollment.program.clinic
    levels = [
        {
            "program": stay["program"],
            "level": Level(stay["level"]).label if stay["level"] in Level.values else stay["level"],
            "start_date": _date(stay["start_date"]),
            "end_date": _date(stay["end_date"]),
            "transition": TransitionKind(stay["transition"]).label if stay["transition"] else "",
        }
        for stay in summary.levels_of_care
    ]
    follow_ups = [
        {
            "text": item["text"],
            "scheduled_for": datetime.datetime.fromisoformat(item["scheduled_for"])
            if item["scheduled_for"]
            else None,
        }
        for item in summary.follow_up_appointments
    ]
    return {
        "summary": summary,
        "patient": summary.patient,
        "clinic": clinic,
        "time_zone": clinic.time_zone,
        "staff_copy": copy == STAFF_COPY,
        "notice": PART2_NOTICE if copy == STAFF_COPY else "",
        "levels": levels,
        "attendance": summary.attendance,
        "attendance_percent": (
            round(summary.attendance["attendance_rate"] * 100)
            if summary.attendance.get("attendance_rate") is not None
            else None
        ),
        "follow_ups": follow_ups,
        "addenda": list(summary.addenda.all()),
        "signer": _signer_name(summary.signed_by),
        "printed_at": now,
    }


def _signer_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def discharge_summary_html(summary: DischargeSummary, *, copy: str, now: datetime.datetime) -> str:
    return render_to_string(
        "programs/discharge_summary.html", _context(summary, copy=copy, now=now)
    )


def discharge_summary_pdf(
    summary: DischargeSummary, *, copy: str, now: datetime.datetime | None = None
) -> bytes:
    """The PDF of ``summary`` as the ``copy`` (``STAFF_COPY`` or ``PATIENT_COPY``) shows it."""
    if copy not in (STAFF_COPY, PATIENT_COPY):
        raise ValueError(f"unknown copy {copy!r}")
    html = discharge_summary_html(summary, copy=copy, now=now or timezone.now())
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        # OSError: WeasyPrint is installed but cannot load pango (cffi's dlopen).
        raise PdfUnavailable(
            "PDFs cannot be made on this server: the PDF library or its system libraries "
            "(pango) are not installed. The summary itself is available as JSON.",
        ) from error
    return weasyprint.HTML(string=html).write_pdf()
