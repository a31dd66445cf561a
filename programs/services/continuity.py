"""Continuity of care after a move between levels (DOMAIN.md: the first session at the new level
within 7 days is the usual target). The step-down board flags a late move; this makes sure
someone acts on it: one alert to the patient's primary clinician per move."""

import datetime

from django.utils import timezone

from clinic.models import AlertKind, Clinic, StaffAlert, zone_today
from clinic.selectors import alert_raised_for
from clinic.services import alert_raise
from programs.models import EnrollmentStatus, Transition
from programs.selectors import care_team_recipients


def continuity_gap_message(move: Transition) -> str:
    """The level and the dates only: an alert can be shown where others see it, so no name."""
    return (
        f"A patient moved to {move.to_enrollment.program.name} on {move.date:%Y-%m-%d} has "
        f"attended no session there after {Transition.CONTINUITY_TARGET_DAYS} days."
    )


def continuity_gaps_alert(*, now: datetime.datetime | None = None) -> list[StaffAlert]:
    """Alert about every move whose patient, still in the new program, has attended no session
    there more than 7 days on (the board's ``gap_after_transition`` rule). Idempotent: an alert
    exists once per move, so beat may run this as often as it likes. Returns the alerts raised
    or found."""
    now = now or timezone.now()
    alerts = []
    # The clinic's own date decides "7 days on"; clinics in one zone share a query.
    for zone in Clinic.objects.values_list("time_zone", flat=True).distinct():
        today = zone_today(zone, now)
        moves = (
            Transition.objects.filter(
                Transition.gap_open_q(today),
                to_enrollment__program__clinic__time_zone=zone,
                to_enrollment__status=EnrollmentStatus.ADMITTED,
            )
            .exclude(alert_raised_for(AlertKind.CONTINUITY_GAP, Transition))
            .select_related("to_enrollment__program", "to_enrollment__primary_clinician")
            .order_by("date", "pk")
        )
        for move in moves:
            alerts.append(
                alert_raise(
                    clinic_id=move.to_enrollment.program.clinic_id,
                    kind=AlertKind.CONTINUITY_GAP,
                    subject=move,
                    **care_team_recipients(move.to_enrollment),
                    patient_id=move.patient_id,
                    message=continuity_gap_message(move),
                )
            )
    return alerts
