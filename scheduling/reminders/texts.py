"""What a reminder says: the clinic's public name and the local date and time, nothing that
reveals treatment (DOMAIN.md "Privacy")."""

import functools
import zoneinfo

from scheduling.models import Reminder, ReminderKind


def render(reminder: Reminder) -> tuple[str, str]:
    """``(subject, text)``: the public name, the local date and time, nothing else."""
    clinic = reminder.session.clinic
    return texts_of(reminder.kind, clinic.public_name, clinic.time_zone, reminder.session.starts_at)


# The rows of a burst share a few sessions (a group session's roster, a clinic's morning): each
# text is built once per session and kind, not per row.
@functools.lru_cache(maxsize=4096)
def texts_of(kind: str, public_name: str, time_zone: str, starts_at) -> tuple[str, str]:
    local = starts_at.astimezone(zoneinfo.ZoneInfo(time_zone))
    when = f"{local:%A, %B} {local.day} at {local:%I:%M %p}".replace(" 0", " ")
    if kind == ReminderKind.CANCELLATION:
        return (
            f"Appointment cancelled: {public_name}",
            f"Your appointment at {public_name} on {when} is cancelled.",
        )
    return (
        f"Appointment reminder: {public_name}",
        f"Reminder: you have an appointment at {public_name} on {when}.",
    )
