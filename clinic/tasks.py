"""Thin Celery tasks of the clinic app."""

from celery import shared_task

from clinic import alert_delivery


@shared_task(ignore_result=True)
def alert_deliveries_send_task() -> dict[str, int]:
    """E-mail staff about new alerts (beat): claim due deliveries, send, record the outcome."""
    return alert_delivery.deliver_due()
