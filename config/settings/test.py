"""Settings for the test suite.

Real servers when DATABASE_URL / REDIS_URL are set (CI sets them); otherwise throwaway embedded
servers, started here before the base settings read the environment and removed when the test
process exits. The URLs go into the environment so that the processes the end-to-end tests
start (server, worker) use the same servers.
"""

import os

from config.test_servers import start_throwaway_servers

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-deployment-0123456789")
# In memory, unless the environment names another: the worker processes that the end-to-end
# tests start write to files or a fake provider the test can read.
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
start_throwaway_servers()

from .base import *  # noqa: E402,F403

# Tests assert on security behaviour but talk plain HTTP to the test client.
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In-memory channels, unless the environment names others (e-mail's is set above, before the
# base settings require one; it wins over an EMAIL_URL of the environment here).
EMAIL_BACKEND = os.environ["EMAIL_BACKEND"]
SMS_BACKEND = os.environ.get("SMS_BACKEND", "clinic.notifications.backends.LocmemSMSBackend")
PUSH_BACKEND = os.environ.get("PUSH_BACKEND", "clinic.notifications.backends.LocmemPushBackend")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Each test run gets its own cache namespace on a shared Redis.
CACHES["default"]["KEY_PREFIX"] = f"continuum-test-{os.getpid()}"  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    "anon": "1000/minute",
    "user": "10000/minute",
    "login": "1000/minute",
    "activation": "1000/minute",
    "checkin": "1000/minute",
    "note_signature": "1000/minute",
}
