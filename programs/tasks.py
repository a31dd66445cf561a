"""Thin Celery tasks of the programs app: re-read the state, call a service."""

from celery import shared_task

from programs.services import inquiry_followup, measures, waitlist_notices
from programs.services.admission_holds import admission_holds_lapse
from programs.services.continuity import continuity_gaps_alert
from programs.services.enrollments import waitlist_expire_offers
from programs.services.follow_ups import follow_ups_overdue_alert
from programs.services.utilization import utilization_review_scan


@shared_task(ignore_result=True)
def waitlist_expire_offers_task() -> int:
    """Lapse waitlist offers past their expiry and offer free places on (idempotent; beat)."""
    return waitlist_expire_offers()


@shared_task(ignore_result=True)
def waitlist_offer_notices_send_task() -> dict[str, int]:
    """Tell offered patients (beat): claim due notices, send, record the outcome."""
    return waitlist_notices.deliver_due()


@shared_task(ignore_result=True)
def continuity_gaps_alert_task() -> int:
    """Alert primary clinicians about moves with no session attended a week on (idempotent)."""
    return len(continuity_gaps_alert())


@shared_task(ignore_result=True)
def utilization_review_scan_task() -> dict[str, int]:
    """Move authorizations on to exhausted or expired, and alert UR about its queue (beat;
    idempotent: one alert per subject and kind, ever)."""
    return utilization_review_scan()


@shared_task(ignore_result=True)
def admission_holds_lapse_task() -> int:
    """Lapse admission holds past their last day and offer their places to the waitlist (beat;
    idempotent: each hold is re-read under its inquiry's lock)."""
    return admission_holds_lapse()


@shared_task(ignore_result=True)
def inquiries_overdue_alert_task() -> int:
    """Alert admissions about open inquiries past their next contact date (beat; idempotent:
    one alert per inquiry and overdue date)."""
    return inquiry_followup.inquiries_overdue_alert()


@shared_task(ignore_result=True)
def callback_requests_send_task() -> dict[str, int]:
    """Ask callers to call back (beat): claim due callback requests, send, record the outcome."""
    return inquiry_followup.callback_requests_send()


@shared_task(ignore_result=True)
def measure_reminders_plan_task() -> int:
    """Queue the reminders of the patients' measures due today (beat; idempotent: one reminder
    per stay, instrument and due date, ever)."""
    return measures.measure_reminders_plan()


@shared_task(ignore_result=True)
def measure_reminders_send_task() -> dict[str, int]:
    """Remind patients of a check-in waiting in the app (beat): claim due reminders, send,
    record the outcome."""
    return measures.measure_reminders_send()


@shared_task(ignore_result=True)
def follow_ups_overdue_alert_task() -> int:
    """Alert the callers of follow-ups past their due date (beat; idempotent: one alert per
    task, ever)."""
    return len(follow_ups_overdue_alert())
