"""The demo data of API.md. Lives in the top app so it may call every app's seed in order."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clinic.demo import DEMO_STAFF, seed_demo_clinic
from patients.demo import seed_demo_patients
from programs.demo import (
    seed_demo_admissions,
    seed_demo_enrollments,
    seed_demo_follow_ups,
    seed_demo_measures,
    seed_demo_notes,
    seed_demo_utilization_review,
)


class Command(BaseCommand):
    help = "Create the demo clinic, staff and patients (idempotent). Refuses with DEBUG off."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even though DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed demo users with DEBUG off (they have a known password). "
                "Use --force if this really is a demo deployment."
            )
        clinic = seed_demo_clinic(password=settings.DEMO_PASSWORD)
        users = get_user_model().objects
        admissions = users.get(username="admissions")
        patients = seed_demo_patients(clinic=clinic, actor=admissions)
        seed_demo_enrollments(
            clinic=clinic, admissions=admissions, clinician=users.get(username="clinician")
        )
        seed_demo_utilization_review(
            clinic=clinic, admissions=admissions, reviewer=users.get(username="utilization_review")
        )
        seed_demo_admissions(
            clinic=clinic, admissions=admissions, clinician=users.get(username="clinician")
        )
        seed_demo_measures(clinic=clinic, clinician=users.get(username="clinician"))
        seed_demo_follow_ups(
            clinic=clinic, admissions=admissions, clinician=users.get(username="clinician")
        )
        # The demo clinician doubles as the intern whose notes wait for a co-signature (the
        # demo's staff are one of each role).
        seed_demo_notes(
            clinic=clinic,
            clinician=users.get(username="clinician"),
            supervisor=users.get(username="supervisor"),
            intern=users.get(username="clinician"),
        )
        self.stdout.write(
            f"Demo clinic {clinic.name!r} ready: {clinic.programs.count()} programs, "
            f"{len(patients)} patients, {clinic.inquiries.count()} inquiries; "
            f"users: {', '.join(DEMO_STAFF)}."
        )
