"""Thin Celery tasks of the clinic app."""

from celery import shared_task
from django.core.management import call_command

from clinic.services import alert_delivery


@shared_task(ignore_result=True)
def alert_deliveries_send_task() -> dict[str, int]:
    """E-mail staff about new alerts (beat): claim due deliveries, send, record the outcome."""
    return alert_delivery.deliver_due()


@shared_task(ignore_result=True)
def tokens_flush_expired_task() -> None:
    """Drop expired refresh tokens from the blacklist tables (beat, daily): every sign-in and
    refresh records one, and an expired token is refused on its expiry alone."""
    call_command("flushexpiredtokens")
