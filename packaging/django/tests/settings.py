"""Settings for the app's own tests (run-tests.sh)."""

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["django_preloadd", "tests.testapp"]
MIDDLEWARE = ["django_preloadd.middleware.PreloadTagsMiddleware"]
ROOT_URLCONF = "tests.testapp.urls"
ALLOWED_HOSTS = ["testserver"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

PRELOAD_INVALIDATING_MODELS = ["testapp.Event", "testapp.Topic"]
# Each test that saves points this at its own fake daemon; nothing listens
# here (port 9 is discard), so a test that forgot would fail loudly.
PRELOADD_URL = "http://127.0.0.1:9"
