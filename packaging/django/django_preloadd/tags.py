"""The tags header (``X-Preload-Tags``, ``[preload] tags_header``): a page
says what it depends on, and the daemon keeps its snapshot under those
tags, so an invalidation naming one of them drops it (SPEC §6).

- ``@preload_tags(*specs)`` on a view adds the header to its response.
- ``PreloadTagsMiddleware`` lets any code that has the request add tags
  while the page is made (:func:`add_tags`, the ``{% preload_tags %}``
  template tag) and writes them into the header at the end.

A spec is a tag name (``"events.Event"``), a model class (its label), a
model instance (its row tag, ``"events.Event:42"``), a list of those, or,
in the decorator, a callable taking the view's arguments
(``lambda request, pk: row_tag(Event, pk)``) and returning any of them or
``None``. Names are opaque to the daemon but cannot hold what separates
them in the header (spaces, tabs, commas): such a name raises
``ValueError``, since the daemon would read it as several tags.
"""

import functools

from django.db.models import Model

from . import conf
from .hooks import label_of, row_tag

SEPARATORS = (" ", "\t", ",")
ATTRIBUTE = "preload_tags"


def names(spec, *args, **kwargs):
    """The tag names ``spec`` stands for, in order."""
    if spec is None:
        return []
    if isinstance(spec, str):
        name = spec.strip(" \t,")
        if any(sep in name for sep in SEPARATORS) or "\r" in name or "\n" in name:
            raise ValueError(f"a preload tag cannot hold spaces, tabs or commas: {spec!r}")
        return [name] if name else []
    if isinstance(spec, Model):
        return [row_tag(spec)]
    if isinstance(spec, type) and issubclass(spec, Model):
        return [label_of(spec)]
    if callable(spec):
        return names(spec(*args, **kwargs))
    if isinstance(spec, (list, tuple, set, frozenset)) or hasattr(spec, "__iter__"):
        out = []
        for item in spec:
            out.extend(names(item))
        return out
    raise TypeError(f"not a preload tag: {spec!r}")


def add_tags(request, *specs):
    """Tags the page being made for ``request`` (needs
    ``PreloadTagsMiddleware``, which writes the header)."""
    tags = getattr(request, ATTRIBUTE, None)
    if tags is None:
        raise RuntimeError("add_tags needs django_preloadd.middleware.PreloadTagsMiddleware")
    for spec in specs:
        tags.update(dict.fromkeys(names(spec)))


def set_header(response, tags):
    """Adds ``tags`` to the response's tags header, after those it has."""
    if not tags:
        return response
    header = conf.get("PRELOADD_TAGS_HEADER")
    have = []
    if header in response:
        have = [t for t in response[header].replace(",", " ").split() if t]
    merged = list(dict.fromkeys([*have, *tags]))
    response[header] = " ".join(merged)
    return response


def preload_tags(*specs):
    """View decorator: ``@preload_tags("events.Event", lambda request, pk:
    f"events.Event:{pk}")``. Works with or without the middleware."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            tags = []
            for spec in specs:
                tags.extend(names(spec, request, *args, **kwargs))
            collected = getattr(request, ATTRIBUTE, None)
            if collected is not None:
                # The middleware writes every tag once, at the end.
                collected.update(dict.fromkeys(tags))
                return response
            return set_header(response, tags)

        return wrapped

    return decorator
