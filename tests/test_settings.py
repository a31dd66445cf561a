"""Settings come from the environment; a production-like environment passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent

PRODUCTION_LIKE = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-for-the-deploy-check-only-" + "x9Q!" * 12,
    "ALLOWED_HOSTS": "continuum.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://continuum.example.org",
    "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}
# The same without any e-mail configuration.
WITHOUT_EMAIL = {key: value for key, value in PRODUCTION_LIKE.items() if key != "EMAIL_BACKEND"}


def manage(*args, env_overrides, drop=()):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in drop and not key.startswith(("DJANGO_", "SECURE_"))
    }
    # Use the servers of this test run so that no embedded server starts.
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_secret_key_is_one_clear_sentence_not_a_traceback():
    result = manage("check", env_overrides={"DEBUG": "0"}, drop=("SECRET_KEY",))

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_is_off_unless_the_environment_turns_it_on():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        env_overrides={"SECRET_KEY": "s" * 60, "EMAIL_BACKEND": PRODUCTION_LIKE["EMAIL_BACKEND"]},
        drop=("DEBUG",),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_debug_email_must_be_configured_not_printed_to_the_log():
    result = manage("check", env_overrides=WITHOUT_EMAIL, drop=("EMAIL_URL", "EMAIL_BACKEND"))

    assert result.returncode != 0
    assert "EMAIL_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("EMAIL_URL", "smtp://mail.internal:25", "django.core.mail.backends.smtp.EmailBackend"),
        (
            "EMAIL_BACKEND",
            "django.core.mail.backends.filebased.EmailBackend",
            "django.core.mail.backends.filebased.EmailBackend",
        ),
    ],
)
def test_without_debug_either_email_variable_will_do(variable, value, expected):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        env_overrides={**WITHOUT_EMAIL, variable: value},
        drop=("EMAIL_URL", "EMAIL_BACKEND"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_debug_prints_email_to_the_console_without_configuration():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        env_overrides={"DEBUG": "1"},
        drop=("SECRET_KEY", "EMAIL_URL", "EMAIL_BACKEND"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.mail.backends.console.EmailBackend"


def test_debug_needs_no_secret_key():
    result = manage("check", env_overrides={"DEBUG": "1"}, drop=("SECRET_KEY",))

    assert result.returncode == 0, result.stderr


def test_check_deploy_reports_nothing_for_a_production_like_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_LIKE)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_check_deploy_does_complain_about_an_insecure_environment():
    # The same check fails when security is switched off: it can fail.
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={**PRODUCTION_LIKE, "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0"},
    )

    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "setting", "expected"),
    [
        (
            "REDIS_URL",
            "redis://cache.internal:6380/2",
            "CELERY_BROKER_URL",
            "redis://cache.internal:6380/2",
        ),
        (
            "ALLOWED_HOSTS",
            "a.example.org,b.example.org",
            "ALLOWED_HOSTS",
            "['a.example.org', 'b.example.org']",
        ),
        ("CELERY_TASK_ALWAYS_EAGER", "1", "CELERY_TASK_ALWAYS_EAGER", "True"),
        (
            "EMAIL_BACKEND",
            "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_BACKEND",
            "django.core.mail.backends.filebased.EmailBackend",
        ),
        ("EMAIL_URL", "smtp+tls://mailer:pw@mail.internal:587", "EMAIL_HOST", "mail.internal"),
    ],
)
def test_settings_are_read_from_the_environment(variable, value, setting, expected):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; print(settings.{setting})",
        env_overrides={**PRODUCTION_LIKE, variable: value},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_the_abuse_limits_have_their_defaults_and_come_from_the_environment():
    show = (
        "from django.conf import settings; "
        "print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['checkin'], "
        "settings.DEVICES_PER_PATIENT, settings.EMAIL_TIMEOUT)"
    )
    limits = ("THROTTLE_CHECKIN", "DEVICES_PER_PATIENT", "EMAIL_TIMEOUT")

    defaults = manage(
        "shell", "--no-imports", "-c", show, env_overrides=PRODUCTION_LIKE, drop=limits
    )
    chosen = manage(
        "shell",
        "--no-imports",
        "-c",
        show,
        env_overrides={
            **PRODUCTION_LIKE,
            "THROTTLE_CHECKIN": "3/hour",
            "DEVICES_PER_PATIENT": "4",
            "EMAIL_TIMEOUT": "2.5",
        },
    )

    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout.split() == ["12/hour", "10", "10"]
    assert chosen.stdout.split() == ["3/hour", "4", "2.5"]


def test_database_url_selects_that_server():
    url = "postgres://someone:pw@db.internal:5433/clinicdb"
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'], settings.EMBEDDED_SERVERS)"
    )

    result = manage(
        "shell", "--no-imports", "-c", code, env_overrides={**PRODUCTION_LIKE, "DATABASE_URL": url}
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "db.internal",
        "5433",
        "clinicdb",
        "[]",
    ]


DATABASE_OPTIONS = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(d.get('DISABLE_SERVER_SIDE_CURSORS', False), d['CONN_HEALTH_CHECKS'], "
    "repr(d.get('OPTIONS', {}).get('options', '')))"
)


def test_behind_pgbouncer_no_server_side_cursors_and_no_startup_options():
    """PgBouncer 1.18 refuses the ``options`` startup parameter, and a WITH HOLD cursor would
    outlive the transaction that pooling hands its server connection on after."""
    url = "postgres://someone:pw@pooler.internal:6432/clinicdb"
    direct = manage(
        "shell",
        "--no-imports",
        "-c",
        DATABASE_OPTIONS,
        env_overrides={**PRODUCTION_LIKE, "DATABASE_URL": url},
        drop=("DATABASE_POOLER",),
    )
    pooled = manage(
        "shell",
        "--no-imports",
        "-c",
        DATABASE_OPTIONS,
        env_overrides={**PRODUCTION_LIKE, "DATABASE_URL": url, "DATABASE_POOLER": "pgbouncer"},
    )

    assert direct.returncode == 0, direct.stderr
    assert direct.stdout.split() == ["False", "True", "'-c", "jit=off'"]
    assert pooled.returncode == 0, pooled.stderr
    assert pooled.stdout.split() == ["True", "True", "''"]


def test_an_unknown_pooler_is_one_clear_sentence():
    result = manage(
        "check",
        env_overrides={
            **PRODUCTION_LIKE,
            "DATABASE_URL": "postgres://u@db.internal/x",
            "DATABASE_POOLER": "pgpool",
        },
    )

    assert result.returncode != 0
    assert "DATABASE_POOLER='pgpool'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_pooler_without_its_url_is_one_clear_sentence():
    result = manage(
        "check",
        env_overrides={**PRODUCTION_LIKE, "DATABASE_POOLER": "pgbouncer"},
        drop=("DATABASE_URL",),
    )

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_the_service_sessions_run_without_postgres_jit():
    """JIT compiling cost more than it won on the service's statements (config/settings)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_database_replica_url_adds_the_replica_alias_with_the_primary_s_options():
    url = "postgres://reader:pw@replica.internal:5434/clinicdb"
    code = (
        "from django.conf import settings; r = settings.DATABASES.get('replica'); "
        "print(r and (r['HOST'], r['PORT'], r['USER'], r['CONN_MAX_AGE'], "
        "r['CONN_HEALTH_CHECKS'], r['OPTIONS'], r['TEST']['MIRROR']), "
        "settings.REPLICA_MAX_LAG_SECONDS, settings.DATABASE_ROUTERS)"
    )

    without = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        env_overrides=PRODUCTION_LIKE,
        drop=("DATABASE_REPLICA_URL", "REPLICA_MAX_LAG_SECONDS"),
    )
    configured = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        env_overrides={
            **PRODUCTION_LIKE,
            "DATABASE_REPLICA_URL": url,
            "REPLICA_MAX_LAG_SECONDS": "12",
            "CONN_MAX_AGE": "90",
        },
    )

    assert without.returncode == 0, without.stderr
    assert without.stdout.strip() == "None 30.0 ['clinic.replica.ReplicaRouter']"
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.strip() == (
        "('replica.internal', 5434, 'reader', 90, True, "
        "{'options': '-c jit=off', 'connect_timeout': 3}, 'default') 12.0 "
        "['clinic.replica.ReplicaRouter']"
    )


SHOW_BROKER = (
    "from config.celery import app; from django.conf import settings; "
    "print(settings.CELERY_BROKER_URL, settings.BROKER_KIND); "
    "print(sorted((name, str(q.queue_arguments)) for name, q in app.amqp.queues.items())); "
    "print(app.amqp.router.route({}, 'scheduling.tasks.reminders_drain_task')['queue'].name, "
    "app.amqp.router.route({}, 'scheduling.tasks.reminders_dispatch_task')['queue'].name, "
    "app.amqp.router.route({}, 'clinic.tasks.alert_deliveries_send_task')['queue'].name); "
    "print(app.conf.broker_transport_options, app.conf.worker_detect_quorum_queues, "
    "app.conf.task_create_missing_queue_type)"
)


def test_the_broker_is_redis_unless_celery_broker_url_names_another():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        SHOW_BROKER,
        env_overrides={**PRODUCTION_LIKE, "REDIS_URL": "redis://cache.internal:6380/2"},
        drop=("CELERY_BROKER_URL",),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "redis://cache.internal:6380/2 redis",
        "[('celery', 'None'), ('reminders', 'None')]",
        "reminders reminders celery",
        "{} True classic",
    ]


def test_an_amqp_broker_url_selects_rabbitmq_with_quorum_queues_and_publisher_confirms():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        SHOW_BROKER + "; print(settings.CACHES['default']['LOCATION'])",
        env_overrides={
            **PRODUCTION_LIKE,
            "REDIS_URL": "redis://cache.internal:6380/2",
            "CELERY_BROKER_URL": "amqp://continuum:pw@rabbitmq.internal:5672/continuum",
        },
    )

    assert result.returncode == 0, result.stderr
    quorum = str({"x-queue-type": "quorum"})
    assert result.stdout.splitlines() == [
        "amqp://continuum:pw@rabbitmq.internal:5672/continuum rabbitmq",
        f"[('celery', \"{quorum}\"), ('reminders', \"{quorum}\")]",
        "reminders reminders celery",
        "{'confirm_publish': True} True quorum",
        # The cache stays on Redis.
        "redis://cache.internal:6380/2",
    ]
