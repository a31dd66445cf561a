"""The Celery app, configured from Django settings (CELERY_*: a Redis or RabbitMQ broker)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("continuum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_database_connections(**kwargs):
    """What Django does around each request: drop a connection past CONN_MAX_AGE or broken,
    keep a healthy one (CELERY_DB_REUSE_MAX keeps Celery's fix-up from closing every one)."""
    task = kwargs.get("task")
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.celeryd_init.connect
@signals.beat_init.connect
def start_embedded_servers(**kwargs):
    """A worker or beat started on its own still gets the embedded Redis/PostgreSQL it needs."""
    from django.conf import settings

    from config import embedded

    embedded.ensure_project_servers(settings.EMBEDDED_SERVERS)
