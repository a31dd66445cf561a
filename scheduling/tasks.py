"""Thin Celery tasks of the calendar: take ids, re-read the database, call a service.

The outbox in the database is the truth (scheduling.reminders): beat ticks and broker messages
only wake workers up, so a lost one delays a reminder and never loses or doubles it.
"""

from celery import shared_task

from scheduling import reminders, services


@shared_task(ignore_result=True)
def series_materialize_task() -> int:
    """Nightly: extend every series to the horizon and seed new sessions' rosters."""
    return services.materialize_all_series()


@shared_task(ignore_result=True)
def reminders_drain_task() -> int:
    """Claim and send due reminders a group at a time until none is left (or the time budget
    is used); returns how many went out."""
    outcomes = reminders.drain()
    return sum(1 for status in outcomes.values() if status == "sent")


@shared_task(ignore_result=True)
def reminders_dispatch_task() -> int:
    """Wake drains for the due reminders (beat): one per send group due, a few at most."""
    return reminders.dispatch(reminders_drain_task.delay)
