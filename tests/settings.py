"""Test settings: the real settings, read from the same environment, plus the
few things a test run needs (a key, static files served without collectstatic)."""
import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
# The test client, the live server and the servers tests start speak plain http: no
# https redirect or secure-only cookies (tests/platform/test_deploy_check.py checks those).
os.environ.setdefault("ROOFWATCH_HTTPS", "0")

from core.env import env_bool  # noqa: E402
from roofwatch.settings import *  # noqa: E402,F403

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # served by the finders; no collectstatic output to look for
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
# Tests run tasks in-process unless a test starts a real worker (the
# `celery_worker_process` fixture, which turns eager mode off for its duration).
CELERY_TASK_ALWAYS_EAGER = env_bool("ROOFWATCH_CELERY_EAGER", True)  # noqa: F405
# Every test client comes from 127.0.0.1 and many tests send bad tokens on
# purpose: the auth-failure limit is off here, and the tests of it set their own.
ROOFWATCH_AUTH_FAILURES = 10**9
# Outbound webhook tests use receivers on loopback; the tests of the address check turn this off.
ROOFWATCH_WEBHOOK_ALLOW_PRIVATE = env_bool("ROOFWATCH_WEBHOOK_ALLOW_PRIVATE", True)

# SQLite: a test database in a file, like the embedded default, not Django's shared
# in-memory one. The live server then opens its own connections per thread (WAL,
# busy timeout, IMMEDIATE) instead of sharing the test's one connection, whose
# shared-cache table locks fail at once with "database table is locked".
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"roofwatch-test-{os.getpid()}.sqlite3")}
