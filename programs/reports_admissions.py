"""The admissions report (issue 28, item 6; ``reports/admissions/``): how inquiries became
admissions, per month of receipt and referral source.

For the inquiries received in a range of months (each in its clinic's zone) of the caller's
clinics: how many came in, were screened (a screening on file), verified (a verification of
benefits on file), scheduled (the status history reached ``scheduled``) and admitted; the
conversion rate (admitted / inquiries) and the median days from receipt to admission (the
admission's start date, else the day the inquiry became ``admitted``, both local). Per month
and source, per month, per source and in all: one statement with GROUPING SETS, so the report
costs one query whatever the range or the number of sources.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection

from clinic.models import Clinic
from clinic.selectors import clinic_ids_for_user
from clinic.sql import Table, statement
from programs.models import (
    BenefitsVerification,
    Enrollment,
    Inquiry,
    InquiryScreening,
    InquiryStatus,
    InquiryStatusChange,
    ReferralSource,
)
from programs.reports import _earliest_today

ADMISSIONS_REPORT_DEFAULT_MONTHS = 12
ADMISSIONS_REPORT_MAX_MONTHS = 36
FIGURES = ("inquiries", "screened", "verified", "scheduled", "admitted")

# ``base``: one row per inquiry in range, with its local month and the steps it reached. The
# first bound on ``received_at`` (a day wider than any zone's offset) lets the index on (clinic,
# received_at) find the range; the local bounds then decide.
ADMISSIONS_REPORT_SQL = statement(
    """
WITH base AS (
    SELECT {i.id} AS id,
           {i.referral_source_id} AS source_id,
           date_trunc('month', timezone({c.time_zone}, {i.received_at}))::date AS month,
           timezone({c.time_zone}, {i.received_at})::date AS received_on,
           EXISTS (SELECT 1 FROM {s} WHERE {s.inquiry_id} = {i.id}) AS screened,
           EXISTS (SELECT 1 FROM {v} WHERE {v.inquiry_id} = {i.id}) AS verified,
           EXISTS (
               SELECT 1 FROM {h} WHERE {h.inquiry_id} = {i.id} AND {h.to_status} = %(scheduled)s
           ) AS scheduled,
           {i.status} = %(admitted)s AS admitted,
           COALESCE(
               {e.start_date},
               (SELECT min(timezone({c.time_zone}, {h.changed_at}))::date FROM {h}
                WHERE {h.inquiry_id} = {i.id} AND {h.to_status} = %(admitted)s)
           ) AS admitted_on
    FROM {i}
    JOIN {c} ON {c.id} = {i.clinic_id}
    LEFT JOIN {e} ON {e.id} = {i.enrollment_id}
    WHERE {i.clinic_id} = ANY(%(clinic_ids)s)
      AND {i.received_at} >= %(first_day)s::timestamp AT TIME ZONE 'UTC' - interval '1 day'
      AND {i.received_at} < %(after_last_day)s::timestamp AT TIME ZONE 'UTC' + interval '1 day'
      AND timezone({c.time_zone}, {i.received_at}) >= %(first_day)s::timestamp
      AND timezone({c.time_zone}, {i.received_at}) < %(after_last_day)s::timestamp
)
SELECT base.month, base.source_id, {r.name}, {r.clinic_id},
       GROUPING(base.month) = 1 AS all_months,
       GROUPING(base.source_id) = 1 AS all_sources,
       count(*) AS inquiries,
       count(*) FILTER (WHERE base.screened) AS screened,
       count(*) FILTER (WHERE base.verified) AS verified,
       count(*) FILTER (WHERE base.scheduled) AS scheduled,
       count(*) FILTER (WHERE base.admitted) AS admitted,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY base.admitted_on - base.received_on)
           FILTER (WHERE base.admitted AND base.admitted_on IS NOT NULL) AS median_days
FROM base
JOIN {r} ON {r.id} = base.source_id
GROUP BY GROUPING SETS (
    (base.month, base.source_id, {r.name}, {r.clinic_id}),
    (base.month),
    (base.source_id, {r.name}, {r.clinic_id}),
    ()
)
ORDER BY all_months, base.month, all_sources, {r.name}, base.source_id
""",
    i=Table(Inquiry, "i"),
    c=Table(Clinic, "c"),
    e=Table(Enrollment, "e"),
    s=Table(InquiryScreening, "s"),
    v=Table(BenefitsVerification, "v"),
    h=Table(InquiryStatusChange, "h"),
    r=Table(ReferralSource, "r"),
)


@dataclass(frozen=True)
class Month:
    """A calendar month, as the report's range counts them."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, field: str) -> "Month":
        year, _, month = (text or "").partition("-")
        if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()):
            raise ValidationError({field: ["Give a month as YYYY-MM."]})
        if not (int(year) >= 1 and 1 <= int(month) <= 12):
            raise ValidationError({field: ["Give a month as YYYY-MM, the month from 01 to 12."]})
        return cls(int(year), int(month))

    @classmethod
    def of(cls, day: datetime.date) -> "Month":
        return cls(day.year, day.month)

    @property
    def first_day(self) -> datetime.date:
        return datetime.date(self.year, self.month, 1)

    def plus(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def minus(self, other: "Month") -> int:
        return (self.year - other.year) * 12 + self.month - other.month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def admissions_report_range(
    *, user, start: Month | None = None, end: Month | None = None, clinic: int | None = None
) -> tuple[Month, Month]:
    """The report's months, filling in what the caller left out: without an end, the month of
    today (the earliest today of the caller's clinics, or of ``clinic``); without a start,
    ``ADMISSIONS_REPORT_DEFAULT_MONTHS`` months up to the end. At most
    ``ADMISSIONS_REPORT_MAX_MONTHS`` months, the end not before the start: else a 400."""
    if end is None:
        end = (
            Month.of(_earliest_today(user, clinic))
            if start is None
            else start.plus(ADMISSIONS_REPORT_DEFAULT_MONTHS - 1)
        )
    if start is None:
        start = end.plus(-(ADMISSIONS_REPORT_DEFAULT_MONTHS - 1))
    # The range's days must exist as dates (the month after the end too).
    if start.year < 1:
        raise ValidationError({"end": [f"The report's months start from 0001-01 ({start})."]})
    if end.year > 9998:
        raise ValidationError({"start": [f"The report's months end by 9998-12 ({end})."]})
    if end.minus(start) < 0:
        raise ValidationError({"end": [f"The end cannot be before the start ({start})."]})
    if end.minus(start) + 1 > ADMISSIONS_REPORT_MAX_MONTHS:
        raise ValidationError(
            {
                "end": [
                    f"The report covers at most {ADMISSIONS_REPORT_MAX_MONTHS} months; shorten "
                    "the range."
                ]
            }
        )
    return start, end


def _figures(row: dict) -> dict:
    inquiries, admitted = row["inquiries"], row["admitted"]
    median = row["median_days"]
    return {
        **{name: row[name] for name in FIGURES},
        "conversion_rate": round(admitted / inquiries, 4) if inquiries else None,
        "median_days_to_admission": None if median is None else float(median),
    }


def _empty() -> dict:
    return _figures({**dict.fromkeys(FIGURES, 0), "median_days": None})


def admissions_report(*, user, start: Month, end: Month, clinic: int | None = None) -> dict:
    """The admissions report of the caller's clinics (or ``clinic``, if one of them) for the
    inquiries received from ``start`` to ``end`` (months, inclusive), in one query:

    ``{"start", "end", "months": [{"month", figures…}] (every month of the range, empty ones
    with zeros), "sources": [{"referral_source", "referral_source_name", "clinic", figures…}],
    "rows": [per month and source, those with inquiries], "total": {figures…}}``; the figures
    are ``inquiries``, ``screened``, ``verified``, ``scheduled``, ``admitted``,
    ``conversion_rate`` (null without inquiries) and ``median_days_to_admission`` (null
    without admissions)."""
    clinic_ids = clinic_ids_for_user(user)
    if clinic is not None:
        clinic_ids = [clinic] if clinic in clinic_ids else []
    with connection.cursor() as cursor:
        cursor.execute(
            ADMISSIONS_REPORT_SQL,
            {
                "clinic_ids": clinic_ids,
                "first_day": start.first_day,
                "after_last_day": end.plus(1).first_day,
                "scheduled": InquiryStatus.SCHEDULED,
                "admitted": InquiryStatus.ADMITTED,
            },
        )
        names = [column.name for column in cursor.description]
        records = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    by_month, sources, rows, total = {}, [], [], _empty()
    for record in records:
        source = {
            "referral_source": record["source_id"],
            "referral_source_name": record["name"],
            "clinic": record["clinic_id"],
        }
        figures = _figures(record)
        if record["all_months"] and record["all_sources"]:
            total = figures
        elif record["all_sources"]:
            by_month[Month.of(record["month"])] = figures
        elif record["all_months"]:
            sources.append({**source, **figures})
        else:
            rows.append({"month": str(Month.of(record["month"])), **source, **figures})
    months = [
        {"month": str(month), **by_month.get(month, _empty())}
        for month in (start.plus(n) for n in range(end.minus(start) + 1))
    ]
    return {
        "start": str(start),
        "end": str(end),
        "months": months,
        "sources": sources,
        "rows": rows,
        "total": total,
    }
