"""System checks (``manage.py check``, and before ``runserver`` and
``migrate``): settings that cannot work are reported at start, not at the
first save.

- E001 ``PRELOAD_INVALIDATING_MODELS`` is not a list of strings.
- E002 an entry is not ``app_label.ModelName``.
- E003 an entry names no installed model.
- E004 models are listed but ``PRELOADD_URL`` is not set: the hooks would
  have nowhere to POST.
- E005 ``PRELOADD_URL`` is not an ``http://`` or ``https://`` address.
- E006 ``PRELOADD_PREFIX`` or ``PRELOADD_INVALIDATE_PATH`` does not start
  with ``/``.
- W001 ``PRELOADD_URL`` is not set (no models listed): the template tag
  works, ``invalidate()`` will fail.
"""

import re
from urllib.parse import urlsplit

from django.apps import apps
from django.core import checks

from . import conf

LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


def _error(n, msg, hint=None):
    return checks.Error(msg, hint=hint, id=f"django_preloadd.E{n:03d}")


def check_settings(app_configs=None, **kwargs):
    errors = []
    models = conf.get("PRELOAD_INVALIDATING_MODELS") or ()
    if isinstance(models, str) or not all(isinstance(m, str) for m in _iter(models)):
        errors.append(
            _error(
                1,
                f"PRELOAD_INVALIDATING_MODELS must be a list of strings, not {models!r}",
                hint='PRELOAD_INVALIDATING_MODELS = ["events.Event"]',
            )
        )
        models = ()
    for label in models:
        if not LABEL.match(label):
            errors.append(
                _error(
                    2,
                    f"PRELOAD_INVALIDATING_MODELS: {label!r} is not app_label.ModelName",
                    hint='e.g. "events.Event": the app label, a dot, the model class name',
                )
            )
            continue
        try:
            apps.get_model(label)
        except LookupError:
            errors.append(
                _error(3, f"PRELOAD_INVALIDATING_MODELS: {label!r} names no installed model")
            )
    url = conf.get("PRELOADD_URL")
    if not url:
        if models:
            errors.append(
                _error(
                    4,
                    "PRELOADD_URL is not set: saves of PRELOAD_INVALIDATING_MODELS have no daemon to tell",
                    hint='the daemon\'s admin address, e.g. PRELOADD_URL = "http://127.0.0.1:8081"',
                )
            )
        else:
            errors.append(
                checks.Warning(
                    "PRELOADD_URL is not set: django_preloadd.invalidate() will fail",
                    hint='the daemon\'s admin address, e.g. PRELOADD_URL = "http://127.0.0.1:8081"',
                    id="django_preloadd.W001",
                )
            )
    elif not _http_url(url):
        errors.append(
            _error(5, f"PRELOADD_URL must be an http:// or https:// address, not {url!r}")
        )
    for name in ("PRELOADD_PREFIX", "PRELOADD_INVALIDATE_PATH"):
        value = conf.get(name)
        if not isinstance(value, str) or not value.startswith("/"):
            errors.append(_error(6, f'{name} must start with "/", not {value!r}'))
    return errors


def _iter(value):
    try:
        return list(value)
    except TypeError:
        return [None]


def _http_url(url):
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
