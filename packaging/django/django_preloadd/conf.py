"""The settings the app reads, with their defaults. Read on every use, not
at import, so ``override_settings`` and settings changed by a test runner
take effect.

Kept from the origin (``static_preload``), with the same meaning:

- ``PRELOAD_INVALIDATING_MODELS``: ``["app_label.ModelName", ...]``, the
  models whose saves, deletes and many-to-many changes tell the daemon.
- ``PRELOAD_RAISE_ERRORS``: a failed webhook raises :class:`PreloaddError`
  instead of being logged.

New with preloadd:

- ``PRELOADD_URL``: the daemon's admin address, ``http://127.0.0.1:8081``.
- ``PRELOADD_TOKEN``: the ``[invalidate] token``, if the daemon has one.
- ``PRELOADD_PREFIX``: the ``[preload] prefix`` (``/_preload``).
- ``PRELOADD_INVALIDATE_PATH``: the ``[invalidate] path`` (``/_invalidate``).
- ``PRELOADD_TAGS_HEADER``: the ``[preload] tags_header`` (``X-Preload-Tags``).
- ``PRELOADD_TIMEOUT``: seconds a webhook call may take (2).
"""

from django.conf import settings

DEFAULTS = {
    "PRELOAD_INVALIDATING_MODELS": (),
    "PRELOAD_RAISE_ERRORS": False,
    "PRELOADD_URL": None,
    "PRELOADD_TOKEN": None,
    "PRELOADD_PREFIX": "/_preload",
    "PRELOADD_INVALIDATE_PATH": "/_invalidate",
    "PRELOADD_TAGS_HEADER": "X-Preload-Tags",
    "PRELOADD_TIMEOUT": 2.0,
}


def get(name):
    return getattr(settings, name, DEFAULTS[name])


def models():
    """The labels of ``PRELOAD_INVALIDATING_MODELS`` as a frozenset (only
    well-formed strings; the system check reports the others)."""
    value = get("PRELOAD_INVALIDATING_MODELS") or ()
    if isinstance(value, str):
        return frozenset()
    return frozenset(m for m in value if isinstance(m, str))
