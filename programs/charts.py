"""Server-rendered SVG charts for the admin boards (no JavaScript, nothing from a CDN).

Each function takes rows the reports already computed and returns inline SVG markup, escaped
through ``format_html`` (patients' and programs' names are data, never markup). The pictures are
meant to be read at a glance; the numbers stay in the tables beside them.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from programs.models import AUTHORIZED

# Colours: readable in the admin's light and dark themes, distinguishable without colour vision
# by their place (admitted at the bottom, reserved stacked above, the capacity as a line).
ADMITTED = "#417690"
RESERVED = "#9fc5d8"
CAPACITY = "#ba2121"
WAITLIST = "#c17f00"
READY = "#2e7d32"
LATE = "#ba2121"
NEUTRAL = "#417690"
PLANNED = "#d9d9d9"
AUTHORIZED_END = "#c17f00"
TEXT = "currentColor"


def _svg(width: int, height: int, label: str, body) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="board-chart" width="{}" height="{}" '
        'viewBox="0 0 {} {}" role="img" aria-label="{}" font-family="sans-serif" '
        'font-size="11">{}</svg>',
        width,
        height,
        width,
        height,
        label,
        body,
    )


def _value_axis(y, top_value: int, *, left: float, right: float) -> SafeString:
    """The labels of the top value and zero, and the zero line from ``left`` to ``right``."""
    return format_html(
        '<text x="2" y="{}" fill="{}">{}</text><text x="2" y="{}" fill="{}">0</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-opacity="0.4"/>',
        round(y(top_value) + 4, 1),
        TEXT,
        top_value,
        y(0),
        TEXT,
        left,
        y(0),
        right,
        y(0),
        TEXT,
    )


def occupancy_chart(row: dict, *, height: int = 120) -> SafeString:
    """One program's places over the census days: a bar per day (admitted below, reserved above
    it), the capacity as a red line, the waitlist as an amber step line.

    ``row`` is one element of ``programs.reports.census``: ``{"program", "days": [{"date",
    "capacity", "admitted", "reserved", "waitlisted", "free"}]}``.
    """
    days = row["days"]
    name = row["program"]["name"]
    if not days:
        return _svg(300, 20, f"{name}: no days", format_html(""))
    left, right, top, bottom = 28, 8, 8, 18
    bar = 14
    width = left + right + bar * len(days)
    plot_height = height - top - bottom
    top_value = max(
        max(d["capacity"] for d in days),
        max(d["admitted"] + d["reserved"] for d in days),
        max(d["waitlisted"] for d in days),
        1,
    )

    def y(value: float) -> float:
        return round(top + plot_height - plot_height * value / top_value, 1)

    bars = []
    for i, day in enumerate(days):
        x = left + i * bar + 1
        admitted_top = y(day["admitted"])
        reserved_top = y(day["admitted"] + day["reserved"])
        bars.append(
            format_html(
                "<g><title>{}: {} admitted, {} reserved, {} waitlisted, capacity {}</title>"
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/></g>',
                f"{day['date']:%Y-%m-%d}",
                day["admitted"],
                day["reserved"],
                day["waitlisted"],
                day["capacity"],
                x,
                admitted_top,
                bar - 2,
                round(y(0) - admitted_top, 1),
                ADMITTED,
                x,
                reserved_top,
                bar - 2,
                round(admitted_top - reserved_top, 1),
                RESERVED,
            )
        )

    def step_line(key: str) -> str:
        points = []
        for i, day in enumerate(days):
            points += [(left + i * bar, y(day[key])), (left + (i + 1) * bar, y(day[key]))]
        return " ".join(f"{px},{py}" for px, py in points)

    # Week ticks: the date under every seventh day, from the first.
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" fill="{}">{}</text>',
        (
            (left + i * bar, height - 4, TEXT, f"{day['date']:%m-%d}")
            for i, day in enumerate(days)
            if i % 7 == 0
        ),
    )
    axis = _value_axis(y, top_value, left=left, right=width - right)
    lines = format_html(
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"><title>capacity</title>'
        "</polyline>"
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="4 2">'
        "<title>waitlisted</title></polyline>",
        step_line("capacity"),
        CAPACITY,
        step_line("waitlisted"),
        WAITLIST,
    )
    return _svg(
        width,
        height,
        f"Occupancy of {name}, {days[0]['date']:%Y-%m-%d} to {days[-1]['date']:%Y-%m-%d}",
        format_html(
            "{}{}{}{}",
            axis,
            format_html_join("", "{}", ((b,) for b in bars)),
            lines,
            ticks,
        ),
    )


def _authorized_days(row: dict) -> int | None:
    """Days from the start to the first day an approved current authorization no longer covers."""
    if row["authorization_status"] not in AUTHORIZED or row["authorization_end_date"] is None:
        return None
    return (row["authorization_end_date"] - row["start_date"]).days + 1


def _authorization_text(row: dict) -> str:
    if row["authorization"] is None:
        return "no authorization"
    left = "" if row["units_remaining"] is None else f", {row['units_remaining']} left"
    return (
        f"authorization {row['authorization_status']}: {row['authorized_level']} through "
        f"{row['authorization_end_date']:%Y-%m-%d}{left}"
    )


def step_down_chart(rows: list[dict]) -> SafeString:
    """A bar per patient: days in the program (coloured by flag) against the planned stay (the
    grey bar behind), the minimum stay (a black tick) and the end of an approved authorization
    (a dashed amber tick); adherence written at the end.

    ``rows`` are ``programs.reports.step_down_rows`` with ``program_name``.
    """
    if not rows:
        return _svg(
            400,
            24,
            "Nobody is active",
            format_html(
                '<text x="4" y="16" fill="{}">Nobody is active in a program today.</text>', TEXT
            ),
        )
    label_width, right, top, line = 230, 70, 6, 20
    scale_days = max(
        max((r["planned_end_date"] - r["start_date"]).days for r in rows),
        max(r["days_in_program"] for r in rows),
        max(r["min_stay_days"] or 0 for r in rows),
        1,
    )
    plot_width = 520
    width = label_width + plot_width + right
    height = top + line * len(rows) + 8

    def x(days: float) -> float:
        return round(label_width + plot_width * max(days, 0) / scale_days, 1)

    def colour(flags) -> str:
        if "past_planned_end" in flags:
            return LATE
        if "ready_for_step_down" in flags:
            return READY
        return NEUTRAL

    bars = []
    for i, row in enumerate(rows):
        y = top + i * line
        planned = (row["planned_end_date"] - row["start_date"]).days
        adherence = "—" if row["adherence"] is None else f"{row['adherence']:.0%}"
        flags = ", ".join(row["flags"]) or "no flags"
        authorized_days = _authorized_days(row)
        bars.append(
            format_html(
                "<g><title>{}: day {} of {} planned ({}); {}; adherence {}; {}</title>"
                '<text x="4" y="{}" fill="{}">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="12" fill="{}"/>'
                '<rect x="{}" y="{}" width="{}" height="12" fill="{}"/>'
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"/>'
                '<text x="{}" y="{}" fill="{}">{}</text></g>',
                row["patient_name"],
                row["days_in_program"],
                planned,
                row["program_name"],
                _authorization_text(row),
                adherence,
                flags,
                y + 10,
                TEXT,
                f"{row['patient_name']} · {row['program_name']}"[:38],
                label_width,
                y,
                round(x(planned) - label_width, 1),
                PLANNED,
                label_width,
                y + 2,
                round(x(row["days_in_program"]) - label_width, 1),
                colour(row["flags"]),
                x(row["min_stay_days"] or 0),
                y - 1,
                x(row["min_stay_days"] or 0),
                y + 13,
                TEXT,
                label_width + plot_width + 6,
                y + 10,
                TEXT,
                adherence,
            )
        )
        if authorized_days is not None:
            bars.append(
                format_html(
                    '<line class="authorized-end" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" '
                    'stroke-width="2" stroke-dasharray="3 2"/>',
                    x(min(authorized_days, scale_days)),
                    y - 2,
                    x(min(authorized_days, scale_days)),
                    y + 14,
                    AUTHORIZED_END,
                )
            )
    return _svg(
        width,
        height,
        f"Step-down board, {len(rows)} patients",
        format_html_join("", "{}", ((b,) for b in bars)),
    )


def admissions_chart(months: list[dict], *, height: int = 160) -> SafeString:
    """The admissions funnel per month of receipt: for each month a bar of the inquiries (light)
    with the admitted ones inside it (dark), the scheduled ones as a tick, and the conversion
    rate above it.

    ``months`` is ``programs.reports_admissions.admissions_report``'s ``months``: ``[{"month",
    "inquiries", "scheduled", "admitted", "conversion_rate", …}]``, every month of the range.
    """
    if not months:
        return _svg(300, 20, "Admissions: no months", format_html(""))
    left, right, top, bottom = 28, 8, 18, 18
    bar = 36
    width = left + right + bar * len(months)
    plot_height = height - top - bottom
    top_value = max(max(m["inquiries"] for m in months), 1)

    def y(value: float) -> float:
        return round(top + plot_height - plot_height * value / top_value, 1)

    bars = []
    for i, month in enumerate(months):
        x = left + i * bar + 3
        rate = month["conversion_rate"]
        bars.append(
            format_html(
                "<g><title>{}: {} inquiries, {} screened, {} verified, {} scheduled, {} admitted"
                "</title>"
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"/>'
                '<text x="{}" y="{}" fill="{}" font-size="9">{}</text>'
                '<text x="{}" y="{}" fill="{}">{}</text></g>',
                month["month"],
                month["inquiries"],
                month["screened"],
                month["verified"],
                month["scheduled"],
                month["admitted"],
                x,
                y(month["inquiries"]),
                bar - 6,
                round(y(0) - y(month["inquiries"]), 1),
                RESERVED,
                x,
                y(month["admitted"]),
                bar - 6,
                round(y(0) - y(month["admitted"]), 1),
                ADMITTED,
                x,
                y(month["scheduled"]),
                x + bar - 6,
                y(month["scheduled"]),
                WAITLIST,
                x,
                round(y(month["inquiries"]) - 3, 1),
                TEXT,
                "" if rate is None else f"{rate:.0%}",
                x,
                height - 4,
                TEXT,
                month["month"][2:],
            )
        )
    axis = _value_axis(y, top_value, left=left, right=width - right)
    return _svg(
        width,
        height,
        f"Inquiries and admissions per month, {months[0]['month']} to {months[-1]['month']}",
        format_html("{}{}", axis, format_html_join("", "{}", ((b,) for b in bars))),
    )


# Measures -----------------------------------------------------------------------------------------

# The bands of an instrument, lightest to darkest as they grow more severe.
BAND_SHADES = ("#e8f1e8", "#f4f1dc", "#f7e6cf", "#f5d9cc", "#f0c9c9", "#e6b3b3")
SUBSCALE_COLOURS = {"use": LATE, "risk": WAITLIST, "protective": READY}


def measure_chart(
    instrument, responses: list, *, width: int = 420, height: int = 150
) -> SafeString:
    """One instrument's history in a stay or a patient's record: its totals (the BAM: its three
    subscales) over time as a line with a titled point per response, over the instrument's bands
    shaded from the lightest (the mildest) to the darkest.

    ``instrument`` is a ``patients.instruments.Instrument``; ``responses`` are
    ``MeasureResponse`` rows (``completed_at``, ``total``, ``band``, ``subscales``) in any
    order."""
    responses = sorted(responses, key=lambda r: (r.completed_at, r.pk or 0))
    label = f"{instrument.short_name} over time, {len(responses)} responses"
    if not responses:
        return _svg(300, 20, f"{instrument.short_name}: no responses", SafeString(""))
    left, right, top, bottom = 28, 10, 10, 18
    if instrument.max_total is not None:
        series = {"total": [r.total for r in responses]}
        top_value = instrument.max_total
    else:
        names = sorted({name for r in responses for name in r.subscales})
        series = {name: [r.subscales.get(name) for r in responses] for name in names}
        values = [v for points in series.values() for v in points if v is not None]
        top_value = max([*values, 1])
    first, last = responses[0].completed_at, responses[-1].completed_at
    span = (last - first).total_seconds()
    plot_width, plot_height = width - left - right, height - top - bottom

    def x(moment) -> float:
        if span == 0:
            return round(left + plot_width / 2, 1)
        return round(left + plot_width * (moment - first).total_seconds() / span, 1)

    def y(value: float) -> float:
        return round(top + plot_height - plot_height * min(value, top_value) / top_value, 1)

    shades = []
    bands = sorted({(b.low, b.high, b.label) for b in instrument.bands})
    for n, (low, high, band_label) in enumerate(bands):
        if low > top_value:
            continue
        shades.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}–{}</title>'
                "</rect>",
                left,
                y(high + 1 if high < top_value else top_value),
                plot_width,
                round(y(low) - y(high + 1 if high < top_value else top_value), 1),
                BAND_SHADES[min(n, len(BAND_SHADES) - 1)],
                band_label,
                low,
                high,
            )
        )
    lines = []
    for name, points in series.items():
        colour = SUBSCALE_COLOURS.get(name, NEUTRAL)
        placed = [(r, v) for r, v in zip(responses, points, strict=True) if v is not None]
        lines.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>',
                " ".join(f"{x(r.completed_at)},{y(v)}" for r, v in placed),
                colour,
            )
        )
        lines.extend(
            format_html(
                '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{}: {}{}</title></circle>',
                x(r.completed_at),
                y(v),
                colour,
                r.completed_at.date().isoformat(),
                f"{name} {v}" if name != "total" else v,
                f" ({r.band})" if r.band else "",
            )
            for r, v in placed
        )
    axis = _value_axis(y, top_value, left=left, right=width - right)
    dates = format_html(
        '<text x="{}" y="{}" fill="{}">{}</text><text x="{}" y="{}" fill="{}" '
        'text-anchor="end">{}</text>',
        left,
        height - 4,
        TEXT,
        first.date().isoformat(),
        width - right,
        height - 4,
        TEXT,
        last.date().isoformat(),
    )
    return _svg(
        width,
        height,
        label,
        format_html(
            "{}{}{}{}",
            format_html_join("", "{}", ((s,) for s in shades)),
            axis,
            format_html_join("", "{}", ((line,) for line in lines)),
            dates,
        ),
    )


def outcomes_chart(months: list[dict], *, height: int = 160) -> SafeString:
    """The outcomes per month: a bar of the measures due (light) with the completed ones inside
    it (dark), and the share improved above it.

    ``months`` is ``programs.reports_outcomes.outcomes_report``'s ``months`` (or a program's):
    ``[{"month", "due", "completed", "improved_share", "patients_measured", …}]``."""
    if not months:
        return _svg(300, 20, "Outcomes: no months", SafeString(""))
    left, right, top, bottom = 28, 8, 18, 18
    bar = 36
    width = left + right + bar * len(months)
    plot_height = height - top - bottom
    top_value = max(max(max(m["due"], m["completed"]) for m in months), 1)

    def y(value: float) -> float:
        return round(top + plot_height - plot_height * value / top_value, 1)

    bars = []
    for i, month in enumerate(months):
        x = left + i * bar + 3
        share = month["improved_share"]
        bars.append(
            format_html(
                "<g><title>{}: {} patients measured, {} completed of {} due, {} improved of {} "
                "followed up, median PHQ-9 change {}</title>"
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<text x="{}" y="{}" fill="{}" font-size="9">{}</text>'
                '<text x="{}" y="{}" fill="{}">{}</text></g>',
                month["month"],
                month["patients_measured"],
                month["completed"],
                month["due"],
                month["improved"],
                month["with_follow_up"],
                "—" if month["median_change"] is None else month["median_change"],
                x,
                y(month["due"]),
                bar - 6,
                round(y(0) - y(month["due"]), 1),
                RESERVED,
                x,
                y(month["completed"]),
                (bar - 6) // 2,
                round(y(0) - y(month["completed"]), 1),
                ADMITTED,
                x,
                round(y(max(month["due"], month["completed"])) - 3, 1),
                TEXT,
                "" if share is None else f"{share:.0%}",
                x,
                height - 4,
                TEXT,
                month["month"][2:],
            )
        )
    axis = _value_axis(y, top_value, left=left, right=width - right)
    return _svg(
        width,
        height,
        f"Measures due and completed, share improved, {months[0]['month']} to "
        f"{months[-1]['month']}",
        format_html("{}{}", axis, format_html_join("", "{}", ((b,) for b in bars))),
    )


def continuity_chart(months: list[dict], *, height: int = 160) -> SafeString:
    """The continuity measure per month of discharge: the 30-day rate (light bar) with the
    7-day rate inside it (dark), from 0 to 100 %, the eligible count above; a month with none
    eligible has no bars.

    ``months`` is ``programs.reports_continuity.continuity_report``'s ``months`` (or a
    program's): ``[{"month", "eligible", "rate_7_days", "rate_30_days", …}]``."""
    if not months:
        return _svg(300, 20, "Continuity: no months", SafeString(""))
    left, right, top, bottom = 34, 8, 18, 18
    bar = 36
    width = left + right + bar * len(months)
    plot_height = height - top - bottom

    def y(share: float) -> float:
        return round(top + plot_height - plot_height * share, 1)

    bars = []
    for i, month in enumerate(months):
        x = left + i * bar + 3
        rate_7, rate_30 = month["rate_7_days"] or 0, month["rate_30_days"] or 0
        bars.append(
            format_html(
                "<g><title>{}: {} eligible, {} followed up within 7 days ({}), {} within 30 "
                "days ({}), {} readmitted</title>"
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<text x="{}" y="{}" fill="{}" font-size="9">{}</text>'
                '<text x="{}" y="{}" fill="{}">{}</text></g>',
                month["month"],
                month["eligible"],
                month["followed_up_7_days"],
                _percent(month["rate_7_days"]),
                month["followed_up_30_days"],
                _percent(month["rate_30_days"]),
                month["readmitted"],
                x,
                y(rate_30),
                bar - 6,
                round(y(0) - y(rate_30), 1),
                RESERVED,
                x,
                y(rate_7),
                (bar - 6) // 2,
                round(y(0) - y(rate_7), 1),
                ADMITTED,
                x,
                round(y(rate_30) - 3, 1),
                TEXT,
                f"n={month['eligible']}" if month["eligible"] else "",
                x,
                height - 4,
                TEXT,
                month["month"][2:],
            )
        )
    axis = format_html(
        '<text x="2" y="{}" fill="{}">100%</text><text x="2" y="{}" fill="{}">0%</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-opacity="0.4"/>',
        round(y(1) + 4, 1),
        TEXT,
        y(0),
        TEXT,
        left,
        y(0),
        width - right,
        y(0),
        TEXT,
    )
    return _svg(
        width,
        height,
        f"Follow-up within 7 and 30 days of discharge, {months[0]['month']} to "
        f"{months[-1]['month']}",
        format_html("{}{}", axis, format_html_join("", "{}", ((b,) for b in bars))),
    )


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"
