"""Settings shared by every environment; every value a deployment varies comes from the environment.

See the README's configuration table. ``DEBUG`` is off unless the environment turns it on
(``make run`` does), and with ``DEBUG`` off there is no default secret key.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from kombu import Queue

from config import embedded
from config.brokers import broker_kind

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env file is read when present (never committed; see .env.example).
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def configuration_error(message: str):
    """Stop start-up with one clear sentence instead of a traceback."""
    raise SystemExit(f"Configuration error: {message}")


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        configuration_error(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (required when DEBUG is off), or set DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-local-development-key-only-used-when-DEBUG-is-on"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin, on a site that asks staff for their second factor (clinic.admin_site).
    "clinic.admin_apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    # Refresh tokens are recorded, so rotation, logout and revoked app access can void them.
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "health_check",
    "phonenumber_field",
    # Staff two-factor sign-in (TOTP authenticator apps) and the lockout after failed sign-ins.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "clinic",
    "patients",
    "scheduling",
    "programs",
]

MIDDLEWARE = [
    "clinic.middleware.RequestIdMiddleware",
    "clinic.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks the session's user verified by a second factor (user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    "clinic.sessions.SessionIdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out admin sign-in into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

# The largest request body accepted (413 above it): JSON requests of this API are small.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=256 * 1024)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database and Redis -------------------------------------------------------------------------------
# With no DATABASE_URL / REDIS_URL the service runs on embedded servers of its own
# (config/embedded.py); EMBEDDED_SERVERS names the ones this process relies on.

EMBEDDED_SERVERS = []

DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    EMBEDDED_SERVERS.append("postgres")
    _postgres = embedded.project_postgres()
    DATABASES = {
        "default": {
            # The PostgreSQL backend, plus starting the embedded server on first connection.
            "ENGINE": "config.embedded_db",
            "NAME": embedded.POSTGRES_DATABASE,
            "USER": embedded.POSTGRES_SUPERUSER,
            "HOST": "127.0.0.1",
            "PORT": str(_postgres.port),
        }
    }
# Kept open between requests and tasks (behind PgBouncer too: a client connection to the pooler
# holds no server connection between transactions), checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# DATABASE_URL (and DATABASE_REPLICA_URL) may name a PgBouncer in transaction pooling
# ("pgbouncer"): each transaction may run on another server connection, so nothing may outlive
# one. Django's server-side cursors (.iterator()) are declared WITH HOLD outside a transaction:
# off. The service itself keeps no session state (tests/test_architecture.py guards it).
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "pgbouncer"):
    configuration_error(
        f"DATABASE_POOLER={DATABASE_POOLER!r} is not known: leave it empty (a direct connection) "
        "or set it to 'pgbouncer' (DATABASE_URL names a PgBouncer in transaction pooling)."
    )
if DATABASE_POOLER and not DATABASE_URL:
    configuration_error(
        "DATABASE_POOLER is set but DATABASE_URL is not: set DATABASE_URL to the pooler's address."
    )


def _session_setup(database: dict) -> None:
    """How the service's connections (the primary's, the replica's) are opened."""
    if DATABASE_POOLER:
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
        return
    # PostgreSQL's JIT compiles any statement the planner thinks costly. This service runs
    # short statements, and a row estimate that is merely off (the roster check of reminder
    # planning) made it spend 0.16-0.35 s compiling a statement that then ran in a third of
    # that: off for the service's sessions (set on the connection, so it holds whatever the
    # server's default). PgBouncer refuses this startup option: behind it, turn JIT off for the
    # role (`ALTER ROLE … SET jit = off`, which a replica has too) or in the pooler
    # (`connect_query`).
    options = database.setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()


_session_setup(DATABASES["default"])

# A streaming replica for the heavy reads (clinic.replica): the reports and the audit trail read
# from it inside replica_reads(), while it is at most REPLICA_MAX_LAG_SECONDS behind; everything
# else, and every write, stays on the primary. The test runner never creates a database for it.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"].update(
        CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=True,
        TEST={"MIRROR": "default"},
    )
    _session_setup(DATABASES["replica"])
    # A replica that does not answer sends its reads to the primary within seconds, not at the
    # end of a TCP timeout.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=30.0)
DATABASE_ROUTERS = ["clinic.replica.ReplicaRouter"]

REDIS_URL = env.str("REDIS_URL", default="")
if not REDIS_URL:
    EMBEDDED_SERVERS.append("redis")
    REDIS_URL = embedded.project_redis().url()

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "continuum",
    }
}

# GET /health/ names the failing parts only to staff signed in to the admin or to callers
# with this bearer token (empty: no token works); anonymous callers get the status alone, with
# the worker pinged at most once per HEALTH_WORKER_CHECK_SECONDS (clinic.health).
HEALTH_CHECK_TOKEN = env.str("HEALTH_CHECK_TOKEN", default="")
HEALTH_WORKER_CHECK_SECONDS = env.int("HEALTH_WORKER_CHECK_SECONDS", default=15)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Auth ---------------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Every sign-in (admin, API) goes through django-axes first: it refuses a locked-out one and
# counts the failures (clinic.signin).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Staff (the roles, staff and superusers) sign in with a TOTP code as well as the password: the
# admin's login form asks for it, `auth/token/` takes it as `otp`. Patients' app accounts never.
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Continuum")

# Lockout after repeated failed sign-ins (password or second factor), per username and address:
# a guesser at one address is stopped after AXES_FAILURE_LIMIT tries within the cool-off, while
# the colleague at the clinic's address (and the account's owner elsewhere) can still sign in, so
# nobody can lock a staff member out from afar. Guessing spread over many addresses still meets
# the second factor, whose device slows every wrong code down (django-otp's throttle).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The client's address as the throttles see it (NUM_PROXIES), not a header anyone can forge.
AXES_CLIENT_IP_CALLABLE = "clinic.signin.client_address"
AXES_LOCKOUT_CALLABLE = "clinic.api.auth.lockout_response"
# No start-up banner; failures are still logged, with names and addresses masked.
AXES_VERBOSE = False
# Failed attempts keep no typed-in secrets (axes stores the other form fields).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp", "otp_token", "csrfmiddlewaretoken"]

# Automatic log-off (HIPAA §164.312(a)(2)(iii)): a session ends SESSION_IDLE_MINUTES after its
# last request, and SESSION_MAX_HOURS after sign-in whatever the activity (clinic.sessions).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=15)
SESSION_COOKIE_AGE = env.int("SESSION_MAX_HOURS", default=12) * 60 * 60
SESSION_SAVE_EVERY_REQUEST = False

# Time and language --------------------------------------------------------------------------------
# Stored and computed in UTC; each clinic has its own IANA zone for local wall-clock times.

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Phone numbers are stored in E.164; numbers typed without a country code are read as US ones.
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="US")

# Static files -------------------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".local" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Security -----------------------------------------------------------------------------------------
# Secure by default once DEBUG is off; a deployment behind a TLS-terminating proxy sets
# SECURE_PROXY_SSL_HEADER_NAME (e.g. HTTP_X_FORWARDED_PROTO).

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Orchestrators probe health over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# The admin's messages name patients ("Lee, Ana (0000042) was admitted"): kept in the session on
# the server, never in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER_NAME", default="")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https")

# Email --------------------------------------------------------------------------------------------
# EMAIL_URL (e.g. smtp+tls://user:pass@host:587) wins; else EMAIL_BACKEND (+ EMAIL_FILE_PATH).
# The console default is for DEBUG only: it would print patients' addresses and messages to the
# service's log, so with DEBUG off one of the two must be set.

if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    if not DEBUG and not env.str("EMAIL_BACKEND", default=""):
        configuration_error(
            "EMAIL_URL is not set. Set EMAIL_URL to the SMTP server's URL (e.g. "
            "smtp+tls://user:password@smtp.example.org:587), or EMAIL_BACKEND to a Django e-mail "
            "backend (required when DEBUG is off), or set DEBUG=1 for local development."
        )
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / ".local" / "mail"))
# The service's public address, for links in e-mails to staff (empty: links are paths only).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
# Seconds an SMTP connect or reply may take (Django's default waits forever: one stuck mail
# server would hold a reminder drain past its budget).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SMS and push channels (clinic.notifications); console backends until a provider is set.
SMS_BACKEND = env.str("SMS_BACKEND", default="clinic.notifications.backends.ConsoleSMSBackend")
PUSH_BACKEND = env.str("PUSH_BACKEND", default="clinic.notifications.backends.ConsolePushBackend")
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(BASE_DIR / ".local" / "sms.jsonl"))
PUSH_FILE_PATH = env.str("PUSH_FILE_PATH", default=str(BASE_DIR / ".local" / "push.jsonl"))
SMS_API_BASE_URL = env.str("SMS_API_BASE_URL", default="https://api.twilio.com")
SMS_ACCOUNT_SID = env.str("SMS_ACCOUNT_SID", default="")
SMS_AUTH_TOKEN = env.str("SMS_AUTH_TOKEN", default="")
SMS_FROM_NUMBER = env.str("SMS_FROM_NUMBER", default="")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10)
FCM_API_BASE_URL = env.str("FCM_API_BASE_URL", default="https://fcm.googleapis.com")
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="")
FCM_SERVICE_ACCOUNT_FILE = env.str("FCM_SERVICE_ACCOUNT_FILE", default="")
FCM_TIMEOUT_SECONDS = env.float("FCM_TIMEOUT_SECONDS", default=10)
# Phones a patient may register for push; a new one replaces the one seen longest ago. A push
# reminder is one provider call per device, so this bounds what one patient costs a drain.
DEVICES_PER_PATIENT = env.int("DEVICES_PER_PATIENT", default=10)

# REST API -----------------------------------------------------------------------------------------


def rest_renderer_classes(*, debug: bool = False) -> list[str]:
    """JSON only in production; the browsable API (HTML pages with forms) with DEBUG on."""
    renderers = ["rest_framework.renderers.JSONRenderer"]
    if debug:
        renderers.append("clinic.api.renderers.BrowsableAPIRenderer")
    return renderers


REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": rest_renderer_classes(debug=DEBUG),
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # JWT first: its WWW-Authenticate header makes a missing token a 401, not a 403.
        "clinic.api.authentication.JWTAuthentication",
        "clinic.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies only: one request body per operation in the schema, which generated clients
    # need (the SMS provider's form-encoded webhook names its own parser).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "clinic.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clinic.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/minute"),
        "user": env.str("THROTTLE_USER", default="1200/minute"),
        "login": env.str("THROTTLE_LOGIN", default="10/minute"),
        "activation": env.str("THROTTLE_ACTIVATION", default="10/minute"),
        # A patient's new check-ins (me/check-ins/ POST), per account.
        "checkin": env.str("THROTTLE_CHECKIN", default="12/hour"),
        # Signing and co-signing a progress note check a password or code, per user.
        "note_signature": env.str("THROTTLE_NOTE_SIGNATURE", default="10/minute"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    # A refresh hands out a new refresh token and voids the old one: a stolen refresh token
    # works once at most, and its reuse after the owner's refresh is refused (401).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Every authenticated request loads the user: a disabled account is refused at once, even
    # with an access token that has not expired yet.
    "CHECK_USER_IS_ACTIVE": True,
    # Tokens carry a digest of the password hash: a password change voids the access tokens at
    # once, as it blacklists the refresh tokens (clinic.signals).
    "CHECK_REVOKE_TOKEN": True,
}
# However often it is refreshed, a sign-in's chain of refresh tokens ends this many days after
# the sign-in (clinic.tokens).
JWT_REFRESH_MAX_DAYS = env.int("JWT_REFRESH_MAX_DAYS", default=30)

# How long a patient's app activation code works (patients.services.activation_code_issue).
ACTIVATION_CODE_HOURS = env.int("ACTIVATION_CODE_HOURS", default=72)

SPECTACULAR_SETTINGS = {
    "TITLE": "Continuum API",
    "DESCRIPTION": "Programs, enrollments, sessions and reminders for addiction-treatment "
    "clinics. Every error body is {code, detail, fields}.",
    # The API's version: CHANGELOG.md's newest entry (a test holds them together).
    "VERSION": "1.2.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "patients.models.Level.choices",
        "TrackEnum": "patients.models.Track.choices",
        "ContactKindEnum": "patients.models.ContactKind.choices",
        "TransitionKindEnum": "programs.models.TransitionKind.choices",
        "AftercarePlanStatusEnum": "programs.models.AftercarePlanStatus.choices",
        "GoalStatusEnum": "programs.models.GoalStatus.choices",
        "AftercareItemKindEnum": "programs.models.AftercareItemKind.choices",
        "AlertKindEnum": "clinic.models.AlertKind.choices",
        "SessionKindEnum": "scheduling.models.SessionKind.choices",
        "SessionStatusEnum": "scheduling.models.SessionStatus.choices",
        "AttendanceStatusEnum": "scheduling.models.AttendanceStatus.choices",
        "ReminderChannelEnum": "patients.models.ReminderChannel.choices",
        "DisclosurePurposeEnum": "patients.models.DisclosurePurpose.choices",
        "DisclosureCategoryEnum": "patients.models.DisclosureCategory.choices",
        "EnrollmentStatusEnum": "programs.models.EnrollmentStatus.choices",
        # The waitlist offer's outcome keeps the name it had before reviews had an outcome.
        "OutcomeEnum": "programs.models.OfferOutcome.choices",
        "PayerKindEnum": "programs.models.PayerKind.choices",
        "ReviewKindEnum": "programs.models.ReviewKind.choices",
        "ReviewOutcomeEnum": "programs.models.ReviewOutcome.choices",
        # An authorization's status, in its own rows, the UR queue's and the step-down board's.
        "AuthorizationStatusEnum": "programs.models.AuthorizationStatus.choices",
        # The authorizations' unit keeps its name on the step-down board's rows too.
        "UnitEnum": "programs.models.AuthorizationUnit.choices",
        # The admissions pipeline: an inquiry's status (its own, its history's from and to),
        # the payer's answer, a contact's outcome and the method of a contact or a callback.
        "InquiryStatusEnum": "programs.models.InquiryStatus.choices",
        "BenefitsOutcomeEnum": "programs.models.BenefitsOutcome.choices",
        "ContactOutcomeEnum": "programs.models.ContactOutcome.choices",
        "CallbackMethodEnum": "programs.models.CallbackMethod.choices",
        # A discharge's reason keeps the name it had before close/ took a reason of its own.
        "ReasonEnum": "programs.models.DischargeReason.choices",
        # Why a person was not admitted (the inquiry's, and close/'s reason); a held place's
        # status.
        "NotAdmittedReasonEnum": "programs.models.NotAdmittedReason.choices",
        "HoldStatusEnum": "programs.models.HoldStatus.choices",
        # An outbox row's status: a waitlist offer's notice and a callback request.
        "NoticeStatusEnum": "programs.models.NoticeStatus.choices",
        # Measurement-based care: an instrument (responses, orders, schedules, the app's due
        # measures) and who recorded a response.
        "InstrumentEnum": "patients.instruments.INSTRUMENT_CHOICES",
        "MeasureSourceEnum": "programs.models.MeasureSource.choices",
        # Follow-up after discharge: a task's outcome and an attempt's method.
        "FollowUpOutcomeEnum": "programs.models.FollowUpOutcome.choices",
        "ContactMethodEnum": "programs.models.ContactMethod.choices",
        # Progress notes: a note's status (the note's own, and each attendee's on the roster).
        "ProgressNoteStatusEnum": "programs.selectors.PROGRESS_NOTE_STATUSES",
    },
    # Every operation's error responses ({code, detail, fields}), from what the operation is.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clinic.api.schema.document_errors",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery -------------------------------------------------------------------------------------------

# The broker: Redis (REDIS_URL, also the cache) unless CELERY_BROKER_URL names another; an
# amqp:// URL selects RabbitMQ. Either only wakes workers up: the outboxes in the database are
# the truth, so no task is ever scheduled for later in the broker (no ETA or countdown).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
BROKER_KIND = broker_kind(CELERY_BROKER_URL)
# Two queues, both consumed by a worker started without -Q: `reminders` (the reminder dispatch
# and drains, scheduling.tasks) and `celery` (everything else); `-Q reminders` or `-Q celery`
# gives either its own workers. On RabbitMQ they are quorum queues (replicated, kept on disk,
# so a node's loss or restart drops no message).
_queue_arguments = {"x-queue-type": "quorum"} if BROKER_KIND == "rabbitmq" else None
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name, queue_arguments=_queue_arguments)
    for name in ("celery", "reminders")
]
CELERY_TASK_ROUTES = {"scheduling.tasks.reminders_*": {"queue": "reminders"}}
if BROKER_KIND == "rabbitmq":
    # A publish returns once the broker has the message (publisher confirms); quorum queues
    # take per-consumer prefetch only (Celery turns global QoS off when it sees them).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    CELERY_WORKER_DETECT_QUORUM_QUEUES = True
    CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"
# No result backend: the database is the source of truth for every task's outcome (and the
# Redis result backend calls setex, which redis-py 8 deprecates).
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Workers keep their database connection across tasks, as web workers do across requests
# (CONN_MAX_AGE, health checks; config/celery.py closes old or broken ones around each task).
# Celery's Django fix-up otherwise closes it after every task: one new PostgreSQL connection per
# reminder sent. Its own recycling (every 2 × this many tasks) is left as a far backstop.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100_000)
REMINDER_SCAN_SECONDS = env.int("REMINDER_SCAN_SECONDS", default=60)
# A reminder `sending` longer than this was cut off mid-call (worker killed): marked `unknown`,
# never resent. Keep it well above the providers' timeouts.
REMINDER_SEND_TIMEOUT_SECONDS = env.int("REMINDER_SEND_TIMEOUT_SECONDS", default=600)
# Rows a drain claims and sends at once (one statement claims a group, one records its
# outcomes): larger groups cost fewer commits per row, but a killed worker leaves at most one
# group per drain it was running `sending` (then `unknown`, never resent): processes × threads ×
# this many rows. Keep it small where providers are slow or workers are killed often.
REMINDER_SEND_GROUP = env.int("REMINDER_SEND_GROUP", default=200)
# Drains a dispatch wakes at most (one per group of due rows): about the worker processes and
# threads that may send at once. A drain stops claiming after REMINDER_DRAIN_SECONDS; the next
# tick wakes drains for whatever is left.
REMINDER_DRAIN_TASKS = env.int("REMINDER_DRAIN_TASKS", default=4)
REMINDER_DRAIN_SECONDS = env.int("REMINDER_DRAIN_SECONDS", default=120)
# How often beat lapses admission holds past their last day (their places go to the waitlist).
ADMISSION_HOLD_SCAN_SECONDS = env.int("ADMISSION_HOLD_SCAN_SECONDS", default=3600)
# How often beat queues the reminders of measures due (measurement-based care).
MEASURE_SCAN_SECONDS = env.int("MEASURE_SCAN_SECONDS", default=3600)
CELERY_BEAT_SCHEDULE = {
    "reminders-dispatch": {
        "task": "scheduling.tasks.reminders_dispatch_task",
        "schedule": REMINDER_SCAN_SECONDS,
    },
    # Idempotent (a unique key per series and date): a missed night only delays the horizon.
    "series-materialize": {
        "task": "scheduling.tasks.series_materialize_task",
        "schedule": crontab(hour=env.int("SERIES_MATERIALIZE_HOUR_UTC", default=7), minute=0),
    },
    "alerts-deliver": {
        "task": "clinic.tasks.alert_deliveries_send_task",
        "schedule": REMINDER_SCAN_SECONDS,
    },
    # Expired refresh tokens fail on their expiry alone; their blacklist rows can go.
    "tokens-flush-expired": {
        "task": "clinic.tasks.tokens_flush_expired_task",
        "schedule": crontab(hour=4, minute=30),
    },
    # Idempotent (one alert per move, ever); hourly is soon enough for a 7-day target.
    "continuity-gaps-alert": {
        "task": "programs.tasks.continuity_gaps_alert_task",
        "schedule": env.int("CONTINUITY_SCAN_SECONDS", default=3600),
    },
    # Idempotent (each move re-read under the authorization's lock, one alert per subject and
    # kind); a quarter hour keeps the UR queue's alerts within the day a review falls due.
    "utilization-review-scan": {
        "task": "programs.tasks.utilization_review_scan_task",
        "schedule": env.int("UR_SCAN_SECONDS", default=900),
    },
    "waitlist-expire-offers": {
        "task": "programs.tasks.waitlist_expire_offers_task",
        "schedule": env.int("WAITLIST_SCAN_SECONDS", default=300),
    },
    # Patients told of their waitlist offers, at the pace of the other outboxes.
    "waitlist-offer-notices": {
        "task": "programs.tasks.waitlist_offer_notices_send_task",
        "schedule": REMINDER_SCAN_SECONDS,
    },
    # Idempotent (each hold re-read under its inquiry's lock, SKIP LOCKED): a hold lapses the
    # day after its last day, so an hourly pass hands the place to the waitlist that morning.
    "admission-holds-lapse": {
        "task": "programs.tasks.admission_holds_lapse_task",
        "schedule": ADMISSION_HOLD_SCAN_SECONDS,
    },
    # Idempotent (one alert per inquiry and overdue next-contact date): an inquiry becomes
    # overdue at the clinic's midnight, so a quarter hour alerts within the desk's morning.
    "inquiries-overdue-alert": {
        "task": "programs.tasks.inquiries_overdue_alert_task",
        "schedule": env.int("INQUIRY_SCAN_SECONDS", default=900),
    },
    # Callers asked to call back, at the pace of the other outboxes.
    "callback-requests-send": {
        "task": "programs.tasks.callback_requests_send_task",
        "schedule": REMINDER_SCAN_SECONDS,
    },
    # Idempotent (one reminder per stay, instrument and due date, ever): a measure falls due at
    # the clinic's midnight, so an hourly pass reminds the patient that morning.
    "measure-reminders-plan": {
        "task": "programs.tasks.measure_reminders_plan_task",
        "schedule": MEASURE_SCAN_SECONDS,
    },
    # Patients reminded of a check-in waiting in the app, at the pace of the other outboxes.
    "measure-reminders-send": {
        "task": "programs.tasks.measure_reminders_send_task",
        "schedule": REMINDER_SCAN_SECONDS,
    },
    # Idempotent (one alert per task, ever): a follow-up becomes overdue at the clinic's
    # midnight, so an hourly pass alerts its caller that morning.
    "follow-ups-overdue-alert": {
        "task": "programs.tasks.follow_ups_overdue_alert_task",
        "schedule": env.int("FOLLOW_UP_SCAN_SECONDS", default=3600),
    },
}
# Only the beat holding the lease in the database sends (config.beat): two beats started by
# mistake do not double the work; a standby takes over within about 1⅓ × this after the holder
# stops renewing.
CELERY_BEAT_SCHEDULER = "config.beat:LeaseScheduler"
BEAT_LEASE_SECONDS = env.int("BEAT_LEASE_SECONDS", default=30)
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(embedded.LOCAL_DIR / "celerybeat-schedule")
)

# Scheduling: how far ahead recurring series are expanded into sessions.
SCHEDULE_HORIZON_WEEKS = env.int("SCHEDULE_HORIZON_WEEKS", default=8)

# Logging ------------------------------------------------------------------------------------------
# One line per event with the request id; no patient data is ever logged.

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "clinic.middleware.RequestIdLogFilter"},
        # Paths without query strings, feed tokens masked (config/access_log.py).
        "private_paths": {"()": "config.access_log.PrivatePathLogFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replace Django's own DEBUG-only console handler so each event is logged once.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["private_paths"]},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["private_paths"],
        },
    },
}

# Demo data ----------------------------------------------------------------------------------------

DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="continuum-demo")
