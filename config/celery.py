"""The Celery app: Redis broker from REDIS_URL, configuration from Django settings (CELERY_*)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("continuum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
@signals.beat_init.connect
def start_embedded_servers(**kwargs):
    """A worker or beat started on its own still gets the embedded Redis/PostgreSQL it needs."""
    from django.conf import settings

    from config import embedded

    embedded.ensure_project_servers(settings.EMBEDDED_SERVERS)
