"""Discharge summaries (issue 25): the record a patient leaves with.

``discharge_summary_create`` runs inside ``enrollment_discharge``'s transaction (never for a
transition's source, which continues the episode) and copies the episode's facts in, so a later
edit elsewhere never rewrites a past summary. The clinician completes the free text and signs;
a signed summary is locked (the database trigger is the backstop) and corrected by signed
addenda. Every write is audited with the patient's id and the clinic.
"""

import datetime
import zoneinfo
from collections.abc import Collection

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clinic.errors import Conflict
from clinic.models import AuditAction
from clinic.selectors import CLINICAL_ROLES, is_clinic_staff
from clinic.services import audit_record
from clinic.versions import refresh_version, require_version
from patients.models import Assessment, Level, Track
from programs import selectors
from programs.models import (
    AftercareItemKind,
    AftercarePlanStatus,
    DischargeSummary,
    DischargeSummaryAddendum,
    Enrollment,
)
from programs.services import aftercare
from scheduling.metrics import EMPTY, stay_figures

SUMMARY_TEXT_FIELDS = (
    "course_of_treatment",
    "condition_at_discharge",
    "instructions",
    "staff_notes",
)
# What a signature vouches for: without these the summary says nothing of the stay.
REQUIRED_TO_SIGN = ("course_of_treatment", "condition_at_discharge")
# Who signs: the clinical staff of the summary's clinic (clinic.selectors.CLINICAL_ROLES).
SIGNING_ROLES = CLINICAL_ROLES


def _clinic_id(summary: DischargeSummary) -> int:
    return summary.enrollment.program.clinic_id


def _lock_summary(summary: DischargeSummary) -> DischargeSummary:
    return (
        DischargeSummary.objects.select_for_update(of=("self",))
        .select_related("enrollment__program")
        .get(pk=summary.pk)
    )


# The facts of the episode -------------------------------------------------------------------------


def _transition_kind(enrollment: Enrollment) -> str:
    try:
        return enrollment.transition_in.kind
    except Enrollment.transition_in.RelatedObjectDoesNotExist:
        return ""


def _levels_of_care(chain: list[Enrollment]) -> list[dict]:
    return [
        {
            "program": e.program.name,
            "level": e.level,
            "start_date": e.start_date.isoformat(),
            "end_date": e.discharge_date.isoformat() if e.discharge_date else None,
            "transition": _transition_kind(e),
        }
        for e in chain
    ]


def _attendance(
    chain: list[Enrollment], *, zone: zoneinfo.ZoneInfo, now: datetime.datetime
) -> dict:
    """The episode's attendance: each stay's figures as the step-down board counts them
    (``scheduling.metrics.stay_figures``: the stay's roster entries at sessions that had ended
    by ``now`` and were not cancelled) through its last day (the clinic's), summed.
    ``attendance_rate`` is their adherence, (present + late) / scheduled; None without a
    scheduled session."""
    total = EMPTY
    for stay in chain:
        until = datetime.datetime.combine(
            stay.discharge_date + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
        )
        figures = stay_figures([stay.pk], zone=zone, now=now, until=until)
        total += figures[stay.pk]
    return {
        "scheduled": total.expected,
        "present": total.present,
        "late": total.late,
        "absent": total.no_shows,
        "excused": total.excused,
        "attendance_rate": total.adherence,
    }


def recommendation_text(assessment: Assessment) -> str:
    """The assessment's recommendation as a sentence or two: the level (and track), the
    clinician's decision when it differs, and the rule's rationale."""
    level = Level(assessment.recommended_level).label
    if assessment.recommended_track:
        level += f", {Track(assessment.recommended_track).label.lower()} track"
    parts = [f"Recommended level of care: {level}."]
    if assessment.decided_level and assessment.decided_level != assessment.recommended_level:
        parts.append(
            f"Decided: {Level(assessment.decided_level).label} ({assessment.override_reason})."
        )
    parts.extend(assessment.rationale)
    return " ".join(parts)


# Use cases ----------------------------------------------------------------------------------------


@transaction.atomic
def discharge_summary_create(
    enrollment: Enrollment, *, actor, now: datetime.datetime
) -> DischargeSummary:
    """The summary of a discharged enrollment's episode, with its facts copied in; the
    episode's aftercare plan goes into force (draft → active). Called by
    ``enrollment_discharge`` in its transaction, after the discharge."""
    chain = selectors.episode_enrollments(enrollment)
    clinic = enrollment.program.clinic
    assessment = (
        Assessment.objects.filter(patient_id=enrollment.patient_id)
        .order_by("-assessed_at", "-id")
        .first()
    )
    plan = selectors.episode_plan(chain)
    if plan is not None and plan.status == AftercarePlanStatus.DRAFT:
        plan = aftercare.aftercare_plan_update(
            actor=actor, plan=plan, status=AftercarePlanStatus.ACTIVE
        )
    follow_ups = (
        [
            {
                "text": item.text,
                "scheduled_for": item.scheduled_for.isoformat() if item.scheduled_for else None,
            }
            for item in plan.items.filter(kind=AftercareItemKind.FOLLOW_UP).order_by(
                "scheduled_for", "id"
            )
        ]
        if plan is not None
        else []
    )
    summary = DischargeSummary.objects.create(
        enrollment=enrollment,
        patient_id=enrollment.patient_id,
        episode_start_date=chain[0].start_date,
        discharge_date=enrollment.discharge_date,
        discharge_reason=enrollment.discharge_reason,
        levels_of_care=_levels_of_care(chain),
        attendance=_attendance(chain, zone=zoneinfo.ZoneInfo(clinic.time_zone), now=now),
        last_assessment=assessment,
        recommendation=recommendation_text(assessment) if assessment else "",
        aftercare_plan=plan,
        follow_up_appointments=follow_ups,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=summary,
        clinic=clinic.pk,
        patient_id=summary.patient_id,
    )
    return summary


def _require_draft(summary: DischargeSummary) -> None:
    if summary.is_signed:
        raise Conflict(
            "This discharge summary is signed and can no longer change; add a signed "
            "addendum instead.",
            code="summary_signed",
        )


@transaction.atomic
def discharge_summary_update(
    summary: DischargeSummary,
    *,
    actor,
    data: dict,
    version: Collection[int] | None = None,
) -> DischargeSummary:
    """Write the clinician's text of a draft (``course_of_treatment``,
    ``condition_at_discharge``, ``instructions``, ``staff_notes``); ``version``: the versions
    the caller read (If-Match), None for any."""
    unknown = set(data) - set(SUMMARY_TEXT_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    summary = _lock_summary(summary)
    require_version(summary, version, patient_id=summary.patient_id)
    _require_draft(summary)
    changes = {name: (value or "").strip() for name, value in data.items()}
    changed = [name for name, value in changes.items() if getattr(summary, name) != value]
    if not changed:
        audit_record(
            actor=actor,
            action=AuditAction.READ,
            obj=summary,
            clinic=_clinic_id(summary),
            patient_id=summary.patient_id,
        )
        return summary
    for name in changed:
        setattr(summary, name, changes[name])
    summary.save(update_fields=[*changed, "updated_at"])
    refresh_version(summary)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=summary,
        clinic=_clinic_id(summary),
        patient_id=summary.patient_id,
    )
    return summary


def _require_signer(actor, summary: DischargeSummary) -> None:
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied("Only a clinician or supervisor of the clinic signs.")
    if actor.is_superuser:
        return
    if not is_clinic_staff(actor, clinic_id=_clinic_id(summary), roles=SIGNING_ROLES):
        raise PermissionDenied(
            "Only a clinician or supervisor of the patient's clinic signs a discharge summary."
        )


@transaction.atomic
def discharge_summary_sign(
    summary: DischargeSummary,
    *,
    actor,
    now: datetime.datetime,
    version: Collection[int] | None = None,
) -> DischargeSummary:
    """Sign a completed draft; from then on it is locked."""
    summary = _lock_summary(summary)
    _require_signer(actor, summary)
    require_version(summary, version, patient_id=summary.patient_id)
    _require_draft(summary)
    missing = {
        name: ["Complete this before signing."]
        for name in REQUIRED_TO_SIGN
        if not getattr(summary, name).strip()
    }
    if missing:
        raise ValidationError(missing)
    summary.signed_by = actor
    summary.signed_at = now
    summary.save(update_fields=["signed_by", "signed_at", "updated_at"])
    refresh_version(summary)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=summary,
        clinic=_clinic_id(summary),
        patient_id=summary.patient_id,
    )
    return summary


@transaction.atomic
def discharge_summary_addendum_add(
    summary: DischargeSummary, *, actor, text: str, now: datetime.datetime
) -> DischargeSummaryAddendum:
    """A signed correction or addition to a signed summary, signed by its author."""
    summary = _lock_summary(summary)
    _require_signer(actor, summary)
    if not summary.is_signed:
        raise Conflict(
            "An addendum goes to a signed summary; edit the draft instead.",
            code="summary_not_signed",
        )
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["An addendum needs its text."]})
    addendum = DischargeSummaryAddendum.objects.create(
        summary=summary, text=text, signed_by=actor, signed_at=now
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=addendum,
        clinic=_clinic_id(summary),
        patient_id=summary.patient_id,
    )
    return addendum
