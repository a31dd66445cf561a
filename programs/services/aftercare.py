"""Aftercare: the plan a patient leaves with (items, goals, review date) and the check-ins they
report against it (DOMAIN.md "Aftercare"). One atomic function per use case; each locks the plan
it changes and audits with the patient's id and the clinic.

A risky check-in (use reported, or craving at or above ``CheckIn.RISKY_CRAVING``) alerts the
primary clinician: one open alert per patient, which later risky check-ins attach to until it is
acknowledged. A re-raise for the same check-in never alerts or counts twice.
"""

import datetime
from collections.abc import Collection

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clinic.errors import Conflict
from clinic.models import AlertKind, AuditAction, Role, StaffAlert
from clinic.selectors import clinic_ids_for_user, user_has_role
from clinic.services import alert_raise, audit_record
from clinic.versions import refresh_version, require_version
from programs.models import (
    OCCUPYING,
    AftercareGoal,
    AftercareItem,
    AftercareItemKind,
    AftercarePlan,
    AftercarePlanStatus,
    CheckIn,
    Enrollment,
    GoalStatus,
)
from programs.selectors import care_team_recipients

PLAN_EDITABLE_FIELDS = ("status", "review_date", "medication_continuation", "sober_living", "notes")
GOAL_EDITABLE_FIELDS = ("description", "status", "target_date")

# A plan only moves forward: built in discharge planning, in force after discharge, then closed.
_STATUS_RANK = {
    AftercarePlanStatus.DRAFT: 0,
    AftercarePlanStatus.ACTIVE: 1,
    AftercarePlanStatus.CLOSED: 2,
}

# Staff who may record a check-in on a patient's behalf (the patient records their own); those
# who work the follow-up calls after discharge take one on the call.
CHECK_IN_STAFF_ROLES = (Role.CLINICIAN, Role.ADMISSIONS, Role.SUPERVISOR, Role.ALUMNI_COORDINATOR)


def _lock_plan(plan: AftercarePlan) -> AftercarePlan:
    # Every change to a plan, its items, goals and check-ins takes this lock first, so a
    # check-in or an edit racing a close either lands before it or sees the plan closed.
    return (
        AftercarePlan.objects.select_for_update(of=("self",))
        .select_related("enrollment__program", "enrollment__primary_clinician", "patient")
        .get(pk=plan.pk)
    )


def _require_open(plan: AftercarePlan) -> None:
    if plan.status == AftercarePlanStatus.CLOSED:
        raise Conflict("This aftercare plan is closed.", code="plan_closed")


def _full_clean(obj, exclude: tuple[str, ...] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_constraints=False)


# Plans --------------------------------------------------------------------------------------------


@transaction.atomic
def aftercare_plan_create(
    *,
    actor,
    enrollment: Enrollment,
    review_date: datetime.date | None = None,
    medication_continuation: str = "",
    sober_living: str = "",
    notes: str = "",
) -> AftercarePlan:
    """Start the aftercare plan of an admitted (discharge planning) or discharged enrollment."""
    # The enrollment's lock serialises two concurrent creates: the second sees the first plan
    # instead of tripping over the one-to-one's unique index.
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "patient")
        .get(pk=enrollment.pk)
    )
    if enrollment.status not in OCCUPYING:
        raise Conflict(
            "An aftercare plan is made for an admitted or discharged enrollment; "
            f"this one is {enrollment.status}.",
            code="invalid_state",
        )
    if AftercarePlan.objects.filter(enrollment=enrollment).exists():
        raise Conflict("This enrollment already has an aftercare plan.", code="plan_exists")
    plan = AftercarePlan(
        enrollment=enrollment,
        patient=enrollment.patient,
        review_date=review_date,
        medication_continuation=medication_continuation.strip(),
        sober_living=sober_living.strip(),
        notes=notes.strip(),
        created_by=actor,
    )
    _full_clean(plan, exclude=("enrollment", "patient", "created_by"))
    plan.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=plan,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    return plan


@transaction.atomic
def aftercare_plan_update(
    *, actor, plan: AftercarePlan, expected_versions: Collection[int] | None = None, **changes
) -> AftercarePlan:
    """Change the plan's review date, texts or status; the status only moves forward
    (draft → active → closed), and a closed plan no longer changes."""
    unknown = set(changes) - set(PLAN_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    plan = _lock_plan(plan)
    require_version(plan, expected_versions, patient_id=plan.patient_id)
    for name in ("medication_continuation", "sober_living", "notes"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip()
    changed = [name for name, value in changes.items() if getattr(plan, name) != value]
    if not changed:
        # Nothing to write, but the caller gets the plan back: that is a read.
        audit_record(
            actor=actor,
            action=AuditAction.READ,
            obj=plan,
            clinic=plan.enrollment.program.clinic_id,
            patient_id=plan.patient_id,
        )
        return plan
    if "status" in changed:
        new_status = changes["status"]
        if new_status not in _STATUS_RANK:
            raise ValidationError(
                {"status": [f"Choose one of {', '.join(AftercarePlanStatus.values)}."]}
            )
        if _STATUS_RANK[new_status] < _STATUS_RANK[plan.status]:
            raise Conflict(
                f"An aftercare plan moves forward only (draft, active, closed); this one is "
                f"{plan.status} and cannot go back to {new_status}.",
                code="invalid_state",
            )
    _require_open(plan)
    for name in changed:
        setattr(plan, name, changes[name])
    _full_clean(plan, exclude=("enrollment", "patient", "created_by"))
    plan.save(update_fields=[*changed, "updated_at"])
    refresh_version(plan)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=plan,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    return plan


# Items --------------------------------------------------------------------------------------------


@transaction.atomic
def aftercare_item_add(
    *,
    actor,
    plan: AftercarePlan,
    kind: str,
    text: str,
    scheduled_for: datetime.datetime | None = None,
) -> AftercareItem:
    """Add a trigger, coping skill, support group, follow-up appointment or emergency contact."""
    plan = _lock_plan(plan)
    _require_open(plan)
    if scheduled_for is not None and kind != AftercareItemKind.FOLLOW_UP:
        raise ValidationError({"scheduled_for": ["Only a follow-up appointment has a time."]})
    item = AftercareItem(plan=plan, kind=kind, text=text.strip(), scheduled_for=scheduled_for)
    _full_clean(item, exclude=("plan",))
    item.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=item,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    return item


@transaction.atomic
def aftercare_item_remove(*, actor, item: AftercareItem) -> None:
    plan = _lock_plan(item.plan)
    _require_open(plan)
    audit_record(
        actor=actor,
        action=AuditAction.DELETE,
        obj=item,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    item.delete()


# Goals --------------------------------------------------------------------------------------------


@transaction.atomic
def aftercare_goal_add(
    *,
    actor,
    plan: AftercarePlan,
    description: str,
    status: str = GoalStatus.OPEN,
    target_date: datetime.date | None = None,
) -> AftercareGoal:
    plan = _lock_plan(plan)
    _require_open(plan)
    goal = AftercareGoal(
        plan=plan, description=description.strip(), status=status, target_date=target_date
    )
    _full_clean(goal, exclude=("plan",))
    goal.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=goal,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    return goal


@transaction.atomic
def aftercare_goal_update(
    *, actor, goal: AftercareGoal, expected_versions: Collection[int] | None = None, **changes
) -> AftercareGoal:
    """Reword a goal, move its target date, or record its progress (open, in progress,
    achieved, dropped)."""
    unknown = set(changes) - set(GOAL_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    plan = _lock_plan(goal.plan)
    goal = AftercareGoal.objects.select_for_update().get(pk=goal.pk)
    require_version(goal, expected_versions, patient_id=plan.patient_id)
    if isinstance(changes.get("description"), str):
        changes["description"] = changes["description"].strip()
    changed = [name for name, value in changes.items() if getattr(goal, name) != value]
    if not changed:
        audit_record(
            actor=actor,
            action=AuditAction.READ,
            obj=goal,
            clinic=plan.enrollment.program.clinic_id,
            patient_id=plan.patient_id,
        )
        return goal
    _require_open(plan)
    for name in changed:
        setattr(goal, name, changes[name])
    _full_clean(goal, exclude=("plan",))
    goal.save(update_fields=changed)
    refresh_version(goal)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=goal,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    return goal


# Check-ins ----------------------------------------------------------------------------------------


def _may_record_check_in(actor, plan: AftercarePlan) -> bool:
    """The patient's own app account, or clinic staff recording on the patient's behalf."""
    if actor is None or not actor.is_authenticated:
        return False
    if plan.patient.app_user_id is not None and actor.pk == plan.patient.app_user_id:
        return True
    if actor.is_superuser:
        return True
    return user_has_role(
        actor, *CHECK_IN_STAFF_ROLES
    ) and plan.enrollment.program.clinic_id in clinic_ids_for_user(actor)


def _validate_ratings(craving, mood) -> None:
    errors = {}
    if isinstance(craving, bool) or not isinstance(craving, int) or not 0 <= craving <= 10:
        errors["craving"] = ["Craving is rated 0 (none) to 10 (overwhelming)."]
    if isinstance(mood, bool) or not isinstance(mood, int) or not 1 <= mood <= 5:
        errors["mood"] = ["Mood is rated 1 (very low) to 5 (very good)."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def checkin_record(
    *, actor, plan: AftercarePlan, craving: int, mood: int, used_substance: bool, note: str = ""
) -> CheckIn:
    """Record a check-in (by the patient, or staff on their behalf); a risky one alerts the
    primary clinician, once."""
    plan = _lock_plan(plan)
    if not _may_record_check_in(actor, plan):
        raise PermissionDenied("Only the patient or their clinic's staff record a check-in.")
    _validate_ratings(craving, mood)
    _require_open(plan)
    checkin = CheckIn(
        plan=plan,
        patient_id=plan.patient_id,
        craving=craving,
        mood=mood,
        used_substance=bool(used_substance),
        note=(note or "").strip(),
        recorded_by=actor,
    )
    _full_clean(checkin, exclude=("plan", "patient", "recorded_by"))
    checkin.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=checkin,
        clinic=plan.enrollment.program.clinic_id,
        patient_id=plan.patient_id,
    )
    if checkin.is_risky:
        checkin_alert_raise(checkin=checkin)
    return checkin


def checkin_alert_message(checkin: CheckIn, occurrences: int = 1) -> str:
    """What the alert says: the reason only (of the latest, when several check-ins share the
    alert). Never the note or the patient's name: an alert can be shown on a screen or sent
    where others see it."""
    reasons = []
    if checkin.used_substance:
        reasons.append("use reported")
    if checkin.craving >= CheckIn.RISKY_CRAVING:
        reasons.append(f"craving {checkin.craving} of 10")
    if occurrences > 1:
        return f"{occurrences} check-ins need attention (latest: {', '.join(reasons)})."
    return f"A check-in needs attention ({', '.join(reasons)})."


def checkin_alert_raise(*, checkin: CheckIn) -> StaffAlert | None:
    """Alert the primary clinician (or the clinic's clinicians when the enrollment has none)
    about a risky check-in. While the patient's alert is open, later risky check-ins attach to
    it (a count, no new e-mail), so a patient posting in a loop cannot flood the care team.
    Idempotent: a check-in raises or joins one alert, once (it keeps which)."""
    if not checkin.is_risky:
        return None
    if checkin.alert_id is not None:
        return checkin.alert
    enrollment = checkin.plan.enrollment
    alert = alert_raise(
        clinic_id=enrollment.program.clinic_id,
        kind=AlertKind.RISKY_CHECK_IN,
        subject=checkin,
        **care_team_recipients(enrollment),
        patient_id=checkin.patient_id,
        message=checkin_alert_message(checkin),
        now=checkin.recorded_at,
        occurrence_message=lambda occurrences: checkin_alert_message(checkin, occurrences),
    )
    checkin.alert = alert
    checkin.save(update_fields=["alert"])
    return alert
