"""preloadd for Django: the ``static_preload`` template tag, model hooks
that tell the daemon what changed, and the tags header.

Public API::

    from django_preloadd import (
        preload_url,           # the tag's URL, from Python
        preload_tags, add_tags, row_tag,   # what a page depends on
        invalidate, invalidate_on_commit,  # tell the daemon from code
        PreloaddError,
    )

See docs/integrations/django.md in the preloadd repository.
"""

from . import conf
from .errors import PreloaddError
from .hooks import label_of, queue, row_tag
from .join import join_params
from .join import preload_url as _preload_url
from .tags import add_tags, preload_tags

__all__ = [
    "PreloaddError",
    "add_tags",
    "invalidate",
    "invalidate_on_commit",
    "join_params",
    "preload_tags",
    "preload_url",
    "row_tag",
]


def preload_url(path, *params):
    """``preload_url("/events/", "page=2", request.GET.urlencode())``: what
    ``{% static_preload %}`` renders, under ``PRELOADD_PREFIX``."""
    return _preload_url(conf.get("PRELOADD_PREFIX"), path, [p for p in params if p is not None])


def invalidate(tags=(), models=(), urls=(), prefixes=(), all=False, soft=False):
    """Tells the daemon now and returns how many snapshots it dropped.
    ``models`` may be model classes or labels; ``urls`` upstream targets
    or preload URLs. Raises :class:`PreloaddError` on failure, whatever
    ``PRELOAD_RAISE_ERRORS`` says: the caller asked for it."""
    from . import client

    body = {}
    for field, values in (
        ("tags", list(tags)),
        ("models", [label_of(m) for m in models]),
        ("urls", list(urls)),
        ("prefixes", list(prefixes)),
    ):
        if values:
            body[field] = values
    if all:
        body["all"] = True
    if soft:
        body["soft"] = True
    if not body or body == {"soft": True}:
        raise ValueError("invalidate() names nothing: give tags, models, urls, prefixes or all")
    return client.post(body)


def invalidate_on_commit(tags=(), models=(), urls=(), using="default"):
    """Like the hooks: joins the batch the open transaction on ``using``
    sends once it commits (at once in autocommit). For changes that send
    no signal, such as ``QuerySet.update()`` and ``bulk_create()``."""
    queue(using, [label_of(m) for m in models], list(tags), list(urls))
