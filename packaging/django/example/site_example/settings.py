"""A small site behind nginx and preloadd: one model (events.Event), a list
page kept as a snapshot and tagged with the model, detail pages linked by
preload URLs and tagged with their row. What a deployment sets comes from
the environment, so the end-to-end test can point it at its own daemon."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = ["django_preloadd", "events"]

MIDDLEWARE = [
    "django.middleware.csrf.CsrfViewMiddleware",
    # Writes the tags that views and templates add into X-Preload-Tags.
    "django_preloadd.middleware.PreloadTagsMiddleware",
]

ROOT_URLCONF = "site_example.urls"
WSGI_APPLICATION = "site_example.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

# preloadd. Saves and deletes of these models POST to the daemon's admin
# listener once their transaction commits.
PRELOAD_INVALIDATING_MODELS = ["events.Event"]
PRELOADD_URL = os.environ.get("PRELOADD_URL", "http://127.0.0.1:8081")
PRELOADD_TOKEN = os.environ.get("PRELOADD_TOKEN") or None
PRELOADD_PREFIX = "/_preload"
# Fail loudly in the example: a hook that cannot reach the daemon is a 500.
PRELOAD_RAISE_ERRORS = os.environ.get("PRELOAD_RAISE_ERRORS", "1") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_preloadd": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}
