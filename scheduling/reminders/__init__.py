"""Session reminders: an outbox in the database, sent by Celery workers exactly once.

Life of a row: ``pending`` (due at ``scheduled_for``) → ``sending`` (claimed by a drain with a
group of due rows, committed before the provider is called) → ``sent`` | ``failed`` | back to
``pending`` with a backoff after a retryable provider error. A row left ``sending`` past
``REMINDER_SEND_TIMEOUT_SECONDS`` was cut off mid-call (a killed worker): it becomes ``unknown``
and is never sent again blindly. The beat tick only wakes drains; a lost or duplicated message
neither loses nor doubles anything (due rows stay ``pending`` until a drain claims them; SKIP
LOCKED and the status re-read under the row lock give each row to one drain). Nothing depends
on beat ticks or broker messages surviving: they only delay.

By concern: ``texts`` (what a reminder says, without revealing treatment), ``planning`` (which
reminders a roster entry gets, and what a moved or cancelled session does to them),
``draining`` (the beat's dispatch, claiming and draining due rows), ``sending`` (the channel
send and the recording of outcomes), ``sql`` (array literals and prepared statements). What
other modules call is re-exported here.
"""

from scheduling.reminders.draining import dispatch, drain, mark_cut_off_sends
from scheduling.reminders.planning import (
    DEFAULT_OFFSETS,
    QUIET_CHANNELS,
    ChannelPlanner,
    cancel_pending,
    cancel_with_notices,
    in_quiet_hours,
    notices_for_removed,
    plan_for_channels,
    plan_for_entries,
    quiet_hours_end,
    replan_session,
)
from scheduling.reminders.sending import MAX_ATTEMPTS, RETRY_ROLES, backoff, retry_failed
from scheduling.reminders.texts import render

__all__ = [
    "DEFAULT_OFFSETS",
    "MAX_ATTEMPTS",
    "QUIET_CHANNELS",
    "RETRY_ROLES",
    "ChannelPlanner",
    "backoff",
    "cancel_pending",
    "cancel_with_notices",
    "dispatch",
    "drain",
    "in_quiet_hours",
    "mark_cut_off_sends",
    "notices_for_removed",
    "plan_for_channels",
    "plan_for_entries",
    "quiet_hours_end",
    "render",
    "replan_session",
    "retry_failed",
]
