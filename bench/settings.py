"""Settings for the benchmarks (``make bench``): the service's settings plus the ``bench`` app
(data generator, raw-SQL baseline views mounted by ``bench.urls``).

Same middleware, authentication, permissions and throttle classes as the service; the throttle
rates are raised so that a benchmark measures the code rather than the limiter, tokens live long
enough for a run, and the notification channels are the in-memory ones.
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-deployment-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("JWT_ACCESS_MINUTES", "120")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Replaced below; the base settings require one with DEBUG off.
os.environ.setdefault("EMAIL_BACKEND", "bench.backends.RenderingEmailBackend")

from config.settings.base import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],  # noqa: F405
    "anon": "100000000/minute",
    "user": "100000000/minute",
}
# In memory, keeping nothing (bench/backends.py: why not the tests' outboxes).
EMAIL_BACKEND = "bench.backends.RenderingEmailBackend"
SMS_BACKEND = "bench.backends.AcceptingSMSBackend"
PUSH_BACKEND = "bench.backends.AcceptingPushBackend"
CELERY_TASK_ALWAYS_EAGER = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = "continuum-bench"  # noqa: F405
