"""Follow-up after discharge (issue 25): the calls due some days after a patient leaves
high-intensity care (residential, PHP, withdrawal management), their attempts and outcome, and
the alert when one is overdue. One atomic function per use case; each locks the task it
changes and audits with the patient's id and the clinic.

A transition is not a discharge (the episode goes on at the new level, and the first session
there is its follow-up), so only ``enrollment_discharge`` makes tasks.
"""

import datetime
from collections.abc import Collection

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import (
    AlertKind,
    AuditAction,
    Clinic,
    FollowUpAssignment,
    Role,
    StaffAlert,
    zone_today,
)
from clinic.selectors import alert_raised_for, clinic_ids_for_user, clinic_staff, user_has_role
from clinic.services import alert_raise, audit_record, audit_record_many
from clinic.versions import refresh_version, require_version
from programs import selectors
from programs.models import (
    AftercarePlan,
    AftercarePlanStatus,
    ContactMethod,
    Enrollment,
    FollowUpAttempt,
    FollowUpOutcome,
    FollowUpTask,
)
from programs.services import aftercare

# Who works any follow-up of their clinic, besides the task's assignee and its role's members.
FOLLOW_UP_WORK_ROLES = (Role.CLINICIAN, Role.SUPERVISOR)
# Everyone who may work some follow-up: the API's role gate before the task's own check.
FOLLOW_UP_ROLES = (Role.CLINICIAN, Role.SUPERVISOR, Role.ALUMNI_COORDINATOR)


def _lock_task(task: FollowUpTask) -> FollowUpTask:
    # Every change to a task takes this lock first: of two people completing it at once, the
    # second waits and then finds it closed.
    return (
        FollowUpTask.objects.select_for_update(of=("self",))
        .select_related("enrollment__program__clinic", "patient")
        .get(pk=task.pk)
    )


def _clinic_id(task: FollowUpTask) -> int:
    return task.enrollment.program.clinic_id


def follow_up_may_work(user, task: FollowUpTask) -> bool:
    """The assignee, a member of the assignee role at the task's clinic, or a clinician or
    supervisor of that clinic (a superuser too)."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if _clinic_id(task) not in clinic_ids_for_user(user):
        return False
    if task.assignee_id is not None and task.assignee_id == user.pk:
        return True
    roles = FOLLOW_UP_WORK_ROLES + ((task.assignee_role,) if task.assignee_role else ())
    return user_has_role(user, *roles)


def _require_may_work(user, task: FollowUpTask) -> None:
    if not follow_up_may_work(user, task):
        raise PermissionDenied(
            "Only the task's assignee, its role, or the clinic's clinicians and supervisors "
            "work this follow-up."
        )


def _require_open(task: FollowUpTask) -> None:
    if not task.is_open:
        raise Conflict("This follow-up is already completed.", code="follow_up_completed")


# Creation -----------------------------------------------------------------------------------------


def _assignment(enrollment: Enrollment, clinic: Clinic) -> dict:
    """Whom a discharge's follow-ups go to. The primary clinician by name when the clinic says
    so and the stay has one; otherwise the alumni coordinators, whose work these calls are.
    A clinic without any falls back to its supervisors: a task for a role nobody holds would
    never be called, and supervisors (unlike "every clinician") own the unassigned work."""
    if (
        clinic.follow_up_assignment == FollowUpAssignment.PRIMARY_CLINICIAN
        and enrollment.primary_clinician_id is not None
    ):
        return {"assignee_id": enrollment.primary_clinician_id, "assignee_role": ""}
    if clinic_staff(clinic_ids=[clinic.pk], roles=(Role.ALUMNI_COORDINATOR,)).exists():
        return {"assignee_id": None, "assignee_role": Role.ALUMNI_COORDINATOR}
    return {"assignee_id": None, "assignee_role": Role.SUPERVISOR}


def follow_up_tasks_create(
    enrollment: Enrollment, *, now: datetime.datetime, actor=None
) -> list[FollowUpTask]:
    """One task per day of the program's ``follow_up_days`` after a discharge from
    high-intensity care (none otherwise), due on the discharge date plus that many days.
    Called in the discharge's transaction, with the enrollment locked: days that already have a
    task are skipped (found first, so nothing is left to an IntegrityError mid-transaction).
    Returns the tasks made."""
    program = enrollment.program
    if not program.is_high_intensity or enrollment.discharge_date is None:
        return []
    made = set(
        FollowUpTask.objects.filter(enrollment=enrollment).values_list(
            "days_after_discharge", flat=True
        )
    )
    days = sorted(set(program.follow_up_days) - made)
    if not days:
        return []
    assignment = _assignment(enrollment, program.clinic)
    tasks = FollowUpTask.objects.bulk_create(
        [
            FollowUpTask(
                enrollment=enrollment,
                patient_id=enrollment.patient_id,
                days_after_discharge=day,
                due_date=enrollment.discharge_date + datetime.timedelta(days=day),
                created_at=now,
                **assignment,
            )
            for day in days
        ]
    )
    audit_record_many(
        actor=actor,
        action=AuditAction.CREATE,
        objects=tasks,
        patient_id_of=lambda task: task.patient_id,
        clinic_id_of=lambda task: program.clinic_id,
    )
    return tasks


# Attempts and the outcome -------------------------------------------------------------------------


@transaction.atomic
def follow_up_attempt_record(
    task: FollowUpTask,
    *,
    actor,
    method: str,
    reached: bool,
    note: str = "",
    now: datetime.datetime | None = None,
) -> FollowUpAttempt:
    """Record one try at reaching the patient on an open task."""
    now = now or timezone.now()
    task = _lock_task(task)
    _require_may_work(actor, task)
    _require_open(task)
    if method not in ContactMethod.values:
        raise ValidationError({"method": [f"Choose one of {', '.join(ContactMethod.values)}."]})
    attempt = FollowUpAttempt.objects.create(
        task=task,
        method=method,
        reached=bool(reached),
        note=(note or "").strip(),
        attempted_at=now,
        recorded_by=actor,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=attempt,
        clinic=_clinic_id(task),
        patient_id=task.patient_id,
    )
    return attempt


def _episode_plan(task: FollowUpTask) -> AftercarePlan | None:
    """The episode's aftercare plan while it is open (``selectors.episode_plan``)."""
    plan = selectors.episode_plan(selectors.episode_enrollments(task.enrollment))
    return None if plan is None or plan.status == AftercarePlanStatus.CLOSED else plan


@transaction.atomic
def follow_up_complete(
    task: FollowUpTask,
    *,
    actor,
    outcome: str,
    seen_elsewhere_on: datetime.date | None = None,
    note: str = "",
    check_in: dict | None = None,
    expected_versions: Collection[int] | None = None,
    now: datetime.datetime | None = None,
) -> FollowUpTask:
    """Record the task's outcome and close it (a second completion is a 409). "Seen by another
    provider" needs the visit's date, from the discharge to today. ``check_in``
    (``craving``, ``mood``, ``used_substance``, ``note``): a risk check-in taken on the call,
    recorded on the episode's aftercare plan by the check-in service, so a risky one alerts the
    care team exactly as the patient's own would."""
    now = now or timezone.now()
    task = _lock_task(task)
    _require_may_work(actor, task)
    require_version(task, expected_versions, patient_id=task.patient_id)
    _require_open(task)
    if outcome not in FollowUpOutcome.values:
        raise ValidationError({"outcome": [f"Choose one of {', '.join(FollowUpOutcome.values)}."]})
    if outcome == FollowUpOutcome.SEEN_ELSEWHERE:
        today = task.enrollment.program.clinic.today(now)
        discharged = task.enrollment.discharge_date
        if seen_elsewhere_on is None:
            raise ValidationError(
                {"seen_elsewhere_on": ["Give the date the patient was seen by the other provider."]}
            )
        if not discharged <= seen_elsewhere_on <= today:
            raise ValidationError(
                {
                    "seen_elsewhere_on": [
                        f"The visit elsewhere is between the discharge ({discharged:%Y-%m-%d}) "
                        f"and today ({today:%Y-%m-%d})."
                    ]
                }
            )
    elif seen_elsewhere_on is not None:
        raise ValidationError(
            {"seen_elsewhere_on": ["A date is given only when the patient was seen elsewhere."]}
        )
    if check_in is not None:
        plan = _episode_plan(task)
        if plan is None:
            raise Conflict(
                "This patient has no open aftercare plan to record a check-in on.",
                code="no_open_plan",
            )
        task.check_in = aftercare.checkin_record(actor=actor, plan=plan, **check_in)
    task.outcome = outcome
    task.seen_elsewhere_on = seen_elsewhere_on
    task.outcome_note = (note or "").strip()
    task.completed_at = now
    task.completed_by = actor
    task.save(
        update_fields=[
            "outcome",
            "seen_elsewhere_on",
            "outcome_note",
            "check_in",
            "completed_at",
            "completed_by",
        ]
    )
    refresh_version(task)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=task,
        clinic=_clinic_id(task),
        patient_id=task.patient_id,
    )
    return task


# Overdue ------------------------------------------------------------------------------------------


def follow_up_overdue_message(task: FollowUpTask) -> str:
    """The due date and the day count only: an alert can be shown where others see it, so no
    name and no program."""
    return (
        f"A follow-up call {task.days_after_discharge} days after a discharge was due on "
        f"{task.due_date:%Y-%m-%d} and is not recorded."
    )


def follow_ups_overdue_alert(*, now: datetime.datetime | None = None) -> list[StaffAlert]:
    """Alert the assignee (or role) of every open task past its due date in its clinic's date,
    once per task (``alert_raise`` keeps one alert per subject and kind), so beat may run it as
    often as it likes. Returns the alerts raised now."""
    now = now or timezone.now()
    alerts = []
    # The clinic's own date decides "overdue"; clinics in one zone share a query.
    for zone in Clinic.objects.values_list("time_zone", flat=True).distinct():
        today = zone_today(zone, now)
        tasks = (
            FollowUpTask.objects.filter(
                completed_at__isnull=True,
                due_date__lt=today,
                enrollment__program__clinic__time_zone=zone,
            )
            .exclude(alert_raised_for(AlertKind.FOLLOW_UP_OVERDUE, FollowUpTask))
            .select_related("enrollment__program", "assignee")
            .order_by("due_date", "pk")
        )
        for task in tasks:
            alerts.append(
                alert_raise(
                    clinic_id=task.enrollment.program.clinic_id,
                    kind=AlertKind.FOLLOW_UP_OVERDUE,
                    subject=task,
                    recipient=task.assignee,
                    recipient_role=task.assignee_role,
                    patient_id=task.patient_id,
                    message=follow_up_overdue_message(task),
                    now=now,
                )
            )
    return alerts
