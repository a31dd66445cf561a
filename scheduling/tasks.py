"""Thin Celery tasks of the calendar: take ids, re-read the database, call a service.

The outbox in the database is the truth (scheduling.reminders): beat ticks and broker messages
only wake workers up, so a lost one delays a reminder and never loses or doubles it.
"""

from celery import shared_task

from scheduling import reminders


@shared_task(ignore_result=True)
def reminder_send_chunk_task(reminder_ids: list[int]) -> int:
    """Send a chunk of claimed reminders, a group at a time; returns how many went out."""
    outcomes = reminders.send_chunk(reminder_ids)
    return sum(1 for status in outcomes.values() if status == "sent")


@shared_task(ignore_result=True)
def reminder_send_task(reminder_id: int) -> str:
    """One reminder (messages enqueued one id each before chunked sending)."""
    return reminders.send(reminder_id)


@shared_task(ignore_result=True)
def reminders_dispatch_task() -> int:
    """Claim due reminders and enqueue one send message per chunk of ids after commit (beat)."""
    return reminders.dispatch(reminder_send_chunk_task.delay)
