"""Programs (level of care and its rules), enrollments, the waitlist, beds, transitions,
aftercare plans and check-ins, the census and the step-down board (``reports.py``).

Writes in ``services/`` (``enrollments``, ``programs`` (configuration), ``waitlist_notices``,
``aftercare``, ``continuity``, and ``schedules``: the
program's calendar rules that scheduling asks through ``scheduling.program_rules``, and rosters
that follow admissions and discharges), the program lock in ``locks.py``, reads in
``selectors.py``. The admin is a package with a module per model (``admin/programs``,
``enrollments``, ``transitions``, the patient's page in
``patients``, the boards in ``reports``); the API is in ``api/`` with one ``urls.py``.
"""
