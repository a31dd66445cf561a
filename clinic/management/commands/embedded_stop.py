from django.core.management.base import BaseCommand

from config import embedded


class Command(BaseCommand):
    help = "Stop this checkout's embedded PostgreSQL and Redis (under .local/) if they run."

    def handle(self, *args, **options):
        stopped = embedded.stop_project_servers()
        if stopped:
            self.stdout.write("Stopped embedded " + " and ".join(stopped) + ".")
        else:
            self.stdout.write("No embedded server was running.")
