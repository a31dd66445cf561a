"""Thin Celery tasks of the calendar: take ids, re-read the database, call a service.

The outbox in the database is the truth (scheduling.reminders): beat ticks and broker messages
only wake workers up, so a lost one delays a reminder and never loses or doubles it.
"""

from celery import shared_task

from scheduling import reminders


@shared_task(ignore_result=True)
def reminder_send_task(reminder_id: int) -> str:
    return reminders.send(reminder_id)


@shared_task(ignore_result=True)
def reminders_dispatch_task() -> int:
    """Claim due reminders and enqueue one send task each after commit (beat)."""
    return reminders.dispatch(reminder_send_task.delay)
