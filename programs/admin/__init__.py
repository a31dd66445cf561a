"""The programs admin, a module per page: programs (configuration), enrollments with their action
pages, transitions, the patient's page as the admissions desk's screen (``patients``), the
disclosures to the next provider with their accounting (``disclosures``), the census and
step-down boards (``reports``), payers, coverage and authorizations (``authorizations``), the
UR queue board (``ur_queue``), the admissions desk's referral sources and inquiries
(``inquiries``) and measurement-based care's schedules, responses and recording page
(``measures``); the follow-up queue after discharge (``follow_ups``); progress notes,
read-only (``notes``).

A refusal is shown with the service's message, never as a server error.
"""

from django.contrib import admin

from programs.admin import (  # noqa: F401 - they register pages
    authorizations,
    discharge_summaries,
    disclosures,
    follow_ups,
    inquiries,
    measures,
    notes,
    patients,
    reports,
    ur_queue,
)
from programs.admin.enrollments import EnrollmentAdmin
from programs.admin.programs import ProgramAdmin
from programs.admin.transitions import TransitionAdmin

__all__ = ["EnrollmentAdmin", "ProgramAdmin", "TransitionAdmin"]

# The admin's home page lists the boards above the apps (programs.admin.reports).
admin.site.index_template = "admin/continuum_index.html"
