"""The one interface through which a higher app reacts to the patients app's writes.

Patients cannot import scheduling (DESIGN.md: ``programs → scheduling → patients → clinic``), yet a
channel a patient gains must plan reminders for the sessions already on their schedule. So
scheduling registers a ``ReminderPlanner`` when its app is ready (``SchedulingConfig.ready``) and
the patients services call it, inside their own transaction. Without scheduling installed the
default plans nothing.
"""

import datetime
from collections.abc import Sequence
from typing import Protocol


class ReminderPlanner(Protocol):
    def channels_added(
        self, *, patient_ids: Sequence[int], channels: Sequence[str], now: datetime.datetime
    ) -> int:
        """``channels`` were just added to these patients' ``reminder_channels`` (as of ``now``,
        the caller's clock): plan what they miss. Returns the reminders planned."""
        ...


class _PlansNothing:
    def channels_added(self, *, patient_ids, channels, now) -> int:
        return 0


_planner: ReminderPlanner = _PlansNothing()


def register_reminder_planner(planner: ReminderPlanner) -> None:
    global _planner
    _planner = planner


def reminder_planner() -> ReminderPlanner:
    return _planner
