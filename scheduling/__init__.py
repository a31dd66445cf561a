"""The clinic's calendar: sessions, recurring series (``recurrence.py``), rosters and attendance,
reminders (``reminders/``, an outbox: texts, planning, draining, sending), iCal feeds
(``feeds.py``).

Scheduling owns the calendar's writes (``services.py``), reads (``selectors.py``), API (``api/``:
sessions and series in ``views.py``, the patient's schedule and feeds in ``me.py``, reminders in
``reminders.py``, one ``urls.py``) and admin (``admin/``: ``calendar`` and ``reminders``). It
never imports programs: a program's rules (its cadence, the stays that fill its sessions'
rosters) reach it through ``program_rules.py``, which programs registers.
"""
