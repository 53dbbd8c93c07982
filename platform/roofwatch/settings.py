"""Settings, read from the environment only. See README "Environment"."""
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_header, env_int, env_list, env_positive_floats, env_str
from core.ratelimit import trusted_networks

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # the repository root
DATA_DIR = Path(env_str("ROOFWATCH_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local use)")
    SECRET_KEY = "insecure-local-development-key"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# HTTPS (`manage.py check --deploy` is silent in production). With DEBUG off the site
# is served over HTTPS, normally by a reverse proxy that terminates TLS and names the
# original scheme in a header it always sets itself: ROOFWATCH_SECURE_PROXY_SSL_HEADER,
# e.g. "X-Forwarded-Proto: https" (never name a header clients can pass through). Under
# DEBUG, or with ROOFWATCH_HTTPS=0 (compose on plain http), none of this applies.
ROOFWATCH_HTTPS = env_bool("ROOFWATCH_HTTPS", not DEBUG)
SECURE_PROXY_SSL_HEADER = env_header("ROOFWATCH_SECURE_PROXY_SSL_HEADER")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = ROOFWATCH_HTTPS
# http -> https, except the container health check (http://127.0.0.1:8000/healthz).
# ROOFWATCH_SSL_REDIRECT=0 says the proxy redirects instead (its deploy check is silenced).
SECURE_SSL_REDIRECT = env_bool("ROOFWATCH_SSL_REDIRECT", ROOFWATCH_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SILENCED_SYSTEM_CHECKS = ["security.W008"] if ROOFWATCH_HTTPS and not SECURE_SSL_REDIRECT else []
SECURE_HSTS_SECONDS = env_int("ROOFWATCH_HSTS_SECONDS", 365 * 24 * 3600 if ROOFWATCH_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("ROOFWATCH_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("ROOFWATCH_HSTS_PRELOAD", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "roofwatch",  # project-wide management commands (demo)
    "fleet",
    "results",
    "regressions",
    "bisection",
    "notify",
    "dashboard",
    "axes",  # sign-in lockout (AXES_* below)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.JsonErrorsMiddleware",  # errors under /api/ and /hooks/ in the API's JSON, 404s included
    "core.middleware.RefuseNulMiddleware",  # NUL in a path or query: 404/400 before any view queries with it
    "core.middleware.OneValuePerParameterMiddleware",  # ?a=1&a=2 under /api/: 400
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out sign-in with 429
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "roofwatch.urls"
WSGI_APPLICATION = "roofwatch.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# No DATABASE_URL: the embedded SQLite default under the data dir, set up for
# several agents at once against the threaded demo server: WAL lets readers go
# on beside the one writer; IMMEDIATE takes the write lock when a transaction
# begins (no deadlocked upgrade from a read lock); a writer that finds the lock
# taken waits up to `timeout` seconds instead of failing with "database is locked".
_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "roofwatch.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Tests and `demo` serve straight from the app folders, with no collectstatic step.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

# A run report of a few hundred layers is well under 1 MB; refuse much larger bodies (413).
ROOFWATCH_MAX_REPORT_BYTES = env_int("ROOFWATCH_MAX_REPORT_BYTES", 8 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ROOFWATCH_MAX_REPORT_BYTES

REST_FRAMEWORK = {
    # Reading follows ROOFWATCH_ANONYMOUS_READ (core.access); fleet machines read with their token.
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.agent_auth.MachineTokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.access.MayRead"],
    "DEFAULT_SCHEMA_CLASS": "core.openapi.ApiAutoSchema",
    # JSON bodies only; malformed, badly encoded or too deeply nested JSON is a 400 naming why.
    "DEFAULT_PARSER_CLASSES": ["core.json_body.JSONBodyParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "roofwatch API",
    "DESCRIPTION": "Run reports in, per-layer series out.",
    "VERSION": "1",
    # Fleet dashboards run offline: Swagger UI comes from the sidecar package's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get components of their own (required strings minLength 1, no read-only fields).
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "notify.openapi.add_hooks",  # the inbound hooks with their signature headers
        "core.openapi.complete_operations",  # shared errors, anonymous reads, no NUL in query text
    ],
    # Several models have a "status" field with their own choices: one enum name each.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "fleet.models.JOB_STATUSES",
        "AlertSummaryStatusEnum": "regressions.models.SUMMARY_STATUSES",
        "AlertStatusEnum": "regressions.models.ALERT_STATUSES",
        "JobKindEnum": "fleet.models.JOB_KINDS",
        "AlertKindEnum": "regressions.models.ALERT_KINDS",
        "SweepPointStatusEnum": "results.models.SWEEP_STATUS_CHOICES",
        "SweepModeEnum": "results.models.SWEEP_MODE_CHOICES",
    },
}

# No CELERY_BROKER_URL: tasks run eagerly in-process (the in-memory transport
# only keeps kombu from reaching for a default AMQP server on localhost).
_broker_url = env_str("CELERY_BROKER_URL")
CELERY_BROKER_URL = _broker_url or "memory://localhost/"
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", _broker_url)
CELERY_TASK_ALWAYS_EAGER = env_bool("ROOFWATCH_CELERY_EAGER", not _broker_url)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The periodic sweep (celery beat) re-checks every series with a run in the last
# ROOFWATCH_SWEEP_DAYS days, so a change that needed later points to show is found.
_outbox_sweep_seconds = float(env_int("ROOFWATCH_OUTBOX_SWEEP_SECONDS", 60))
CELERY_BEAT_SCHEDULE = {
    "regressions-sweep": {
        "task": "regressions.tasks.sweep",
        "schedule": float(env_int("ROOFWATCH_SWEEP_SECONDS", 3600)),
    },
    # Jobs of due benchmark schedules, one per machine of the schedule's group (fleet.jobs.enqueue_scheduled).
    "fleet-enqueue-scheduled-jobs": {
        "task": "fleet.tasks.enqueue_scheduled_jobs",
        "schedule": float(env_int("ROOFWATCH_JOBS_TICK_SECONDS", 60)),
    },
    # Claimed jobs whose lease expired go back to the queue, or fail after max_attempts.
    "fleet-release-expired-leases": {
        "task": "fleet.tasks.release_expired_leases",
        "schedule": float(env_int("ROOFWATCH_JOBS_TICK_SECONDS", 60)),
    },
    # The outbox sweeps: webhook deliveries whose queued send was lost or whose backoff passed, and
    # runs whose catalogue task was lost (a broker outage, a killed worker).
    "notify-sweep-deliveries": {"task": "notify.tasks.sweep_deliveries", "schedule": _outbox_sweep_seconds},
    "results-catalogue-sweep": {"task": "results.tasks.catalogue_sweep", "schedule": _outbox_sweep_seconds},
    # Active bisections advance as their jobs finish; the sweep covers a lost task or a worker restart.
    "bisection-sweep": {"task": "bisection.tasks.sweep_bisections", "schedule": _outbox_sweep_seconds},
    # Retention, daily just after midnight UTC: yesterday's (and any missed day's) layer rollups,
    # then the days before the raw window sealed and their layer rows deleted (results.retention).
    "results-roll-up-and-prune": {"task": "results.tasks.roll_up_and_prune", "schedule": crontab(minute=20, hour=0)},
    # The layer table's monthly partitions ahead of time (results.partitions; PostgreSQL only).
    "results-layer-partitions": {"task": "results.tasks.ensure_layer_partitions",
                                 "schedule": crontab(minute=10, hour=0)},
}

# Dashboard pages and their JSON are readable without signing in (triage always needs a user).
ROOFWATCH_ANONYMOUS_READ = env_bool("ROOFWATCH_ANONYMOUS_READ", True)

# notify: outbound alert webhooks (first retry after N s, doubling, capped at 1 h).
ROOFWATCH_WEBHOOK_BACKOFF_SECONDS = env_int("ROOFWATCH_WEBHOOK_BACKOFF_SECONDS", 30)
ROOFWATCH_WEBHOOK_MAX_RETRIES = env_int("ROOFWATCH_WEBHOOK_MAX_RETRIES", 8)
ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS = env_int("ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS", 10)
# Outbound webhooks reach public addresses only (notify.destinations); 1 allows internal receivers.
ROOFWATCH_WEBHOOK_ALLOW_PRIVATE = env_bool("ROOFWATCH_WEBHOOK_ALLOW_PRIVATE", False)
# Authentication failures (bad agent tokens, bad hook signatures) one client address may
# make per window before it gets 429 (core.ratelimit).
ROOFWATCH_AUTH_FAILURES = env_int("ROOFWATCH_AUTH_FAILURES", 20)
ROOFWATCH_AUTH_WINDOW_SECONDS = env_int("ROOFWATCH_AUTH_WINDOW_SECONDS", 300)
# Behind reverse proxies: their addresses/CIDRs; the client is then the right-most
# X-Forwarded-For entry not among them (core.ratelimit). Empty: REMOTE_ADDR is the client.
ROOFWATCH_TRUSTED_PROXIES = env_list("ROOFWATCH_TRUSTED_PROXIES", [])
trusted_networks(tuple(ROOFWATCH_TRUSTED_PROXIES))  # a bad entry stops startup, naming the variable
# Sign-in (login page and admin): django-axes locks a username out, from the client
# address that failed, after ROOFWATCH_LOGIN_FAILURES failures, for the cool-off.
AXES_FAILURE_LIMIT = env_int("ROOFWATCH_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = env_int("ROOFWATCH_LOGIN_COOLOFF_SECONDS", 900) / 3600  # hours, as a float
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "core.ratelimit.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The cache holds those counts: shared across web processes with CACHE_URL=redis://...
_cache_url = env_str("CACHE_URL")
if _cache_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}

# Detection: how many of the latest runs of a benchmark on a machine it reads.
ROOFWATCH_DETECTION_WINDOW = env_int("ROOFWATCH_DETECTION_WINDOW", 200)
ROOFWATCH_SWEEP_DAYS = env_int("ROOFWATCH_SWEEP_DAYS", 14)
# The p99 SLOs (ms) whose best throughput in each uploaded deployment sweep becomes a series
# (results.sweep_ingest); an autotune sweep's own SLO is added to them.
ROOFWATCH_SLOS_P99_MS = env_positive_floats("ROOFWATCH_SLOS_P99_MS", [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
# Months of layer-table partitions kept made ahead of now (PostgreSQL; results.partitions).
ROOFWATCH_PARTITION_MONTHS_AHEAD = env_int("ROOFWATCH_PARTITION_MONTHS_AHEAD", 3)
if not 0 <= ROOFWATCH_PARTITION_MONTHS_AHEAD <= 24:
    raise ImproperlyConfigured(
        f"ROOFWATCH_PARTITION_MONTHS_AHEAD={ROOFWATCH_PARTITION_MONTHS_AHEAD}: expected 0 to 24 (months)"
    )
# Retention: raw layer rows are kept this many days (whole UTC days), daily rollups for ever.
ROOFWATCH_RAW_RETENTION_DAYS = env_int("ROOFWATCH_RAW_RETENTION_DAYS", 180)
if ROOFWATCH_RAW_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(
        f"ROOFWATCH_RAW_RETENTION_DAYS={ROOFWATCH_RAW_RETENTION_DAYS}: expected at least 1 (days of raw layer rows)"
    )
# Bisect an alert summary's commit range by itself (bisection.runner.auto_start); people can always start one.
ROOFWATCH_AUTO_BISECT = env_bool("ROOFWATCH_AUTO_BISECT", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
