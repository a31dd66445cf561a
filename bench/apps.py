from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmarks only: installed by ``bench.settings``, never by the service's settings."""

    name = "bench"
    default_auto_field = "django.db.models.BigAutoField"
