from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.demo import DEMO_STAFF, seed_demo_clinic


class Command(BaseCommand):
    help = "Create the demo clinic and staff users (idempotent). Refuses with DEBUG off."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even though DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed demo users with DEBUG off (they have a known password). "
                "Use --force if this really is a demo deployment."
            )
        clinic = seed_demo_clinic(password=settings.DEMO_PASSWORD)
        self.stdout.write(f"Demo clinic {clinic.name!r} ready; users: {', '.join(DEMO_STAFF)}.")
