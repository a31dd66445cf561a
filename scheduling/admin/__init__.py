"""The calendar's admin, a module per page: series and sessions with the week view of a program
(``calendar``), the reminder outbox (``reminders``)."""

from scheduling.admin import calendar, reminders  # noqa: F401 - each registers its pages
