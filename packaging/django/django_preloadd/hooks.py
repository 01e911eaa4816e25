"""Model hooks: a save, delete or many-to-many change of a model listed in
``PRELOAD_INVALIDATING_MODELS`` tells the daemon, once the transaction has
committed.

After the commit, not at the save: a daemon with ``rewarm = true`` refetches
a dropped page at once, and a fetch that ran before the commit would keep
the old rows. ``transaction.on_commit`` also means a rolled-back change
tells nothing.

One POST per transaction: every change inside one transaction (one
database alias) joins one batch, sent by one ``on_commit`` callback as
``{"models": [...], "tags": [...]}``, where ``models`` are the labels of
the changed models (``events.Event``) and ``tags`` their row tags
(``events.Event:42``, see :func:`row_tag`), so a page tagged with one row is
dropped only when that row changes. Outside a transaction (autocommit) each
change is its own transaction and is sent at once. A batch of more than
``MAX_ITEMS`` row tags and urls is sent as several POSTs of at most that
many, so that no body nears the daemon's 1 MiB limit.

A failed call never breaks the save: it is logged (logger
``django_preloadd``) unless ``PRELOAD_RAISE_ERRORS`` is set, when
:class:`PreloaddError` propagates from the commit (the data is committed
by then; the error tells the caller the cache was not told).
"""

import logging

from django.db import transaction

from . import client, conf
from .errors import PreloaddError

logger = logging.getLogger("django_preloadd")

MAX_ITEMS = 5000


def label_of(model):
    """``events.Event`` for the model class ``Event`` or one of its rows;
    a string is taken as a label already."""
    if isinstance(model, str):
        return model
    return model._meta.label


def row_tag(model, pk=None):
    """The tag the hooks send for one row: ``row_tag(event)`` or
    ``row_tag(Event, 42)`` is ``"events.Event:42"``. A detail page that
    declares it (``@preload_tags(lambda request, pk: row_tag(Event, pk))``)
    is dropped when that row changes, and only then."""
    if pk is None:
        pk = model.pk
    return f"{label_of(model)}:{pk}"


class Batch:
    """What one transaction changed, sent once when it commits."""

    def __init__(self):
        # Dicts as ordered sets: the body lists names in the order first seen.
        self.models = {}
        self.tags = {}
        self.urls = {}
        self.sent = False

    def add(self, models=(), tags=(), urls=()):
        self.models.update(dict.fromkeys(models))
        self.tags.update(dict.fromkeys(tags))
        self.urls.update(dict.fromkeys(urls))

    def bodies(self):
        tags, urls = list(self.tags), list(self.urls)
        first = True
        while first or tags or urls:
            body = {}
            if first and self.models:
                body["models"] = list(self.models)
            room = MAX_ITEMS
            if tags:
                body["tags"], tags = tags[:room], tags[room:]
                room -= len(body["tags"])
            if urls and room:
                body["urls"], urls = urls[:room], urls[room:]
            first = False
            if body:
                yield body

    def send(self):
        self.sent = True
        for body in self.bodies():
            notify(body)


def notify(body):
    """POSTs ``body``; a failure is logged, or raised under
    ``PRELOAD_RAISE_ERRORS``."""
    try:
        client.post(body)
    except PreloaddError as err:
        if conf.get("PRELOAD_RAISE_ERRORS"):
            raise
        changed = ", ".join(body.get("models") or body.get("tags") or body.get("urls") or ())
        logger.warning("preloadd was not told that %s changed: %s", changed, err)


def queue(using, models=(), tags=(), urls=()):
    """Adds to the batch of the transaction open on ``using`` (a new batch,
    sent on commit, if it has none)."""
    connection = transaction.get_connection(using)
    batch = getattr(connection, "_preloadd_batch", None)
    if batch is not None and _pending(connection, batch):
        batch.add(models, tags, urls)
        return
    batch = Batch()
    batch.add(models, tags, urls)
    connection._preloadd_batch = batch
    # In autocommit this runs the callback at once.
    transaction.on_commit(batch.send, using=using)


def _pending(connection, batch):
    """Whether ``batch`` will still be sent by this transaction's commit: a
    savepoint rolled back after it was made discards its callback, and a
    change after that needs a batch of its own."""
    if batch.sent or not connection.in_atomic_block:
        return False
    return any(getattr(entry[1], "__self__", None) is batch for entry in connection.run_on_commit)


def _listed_labels(model, listed):
    """The listed labels that a change of ``model`` concerns: its own, its
    concrete model's (for a proxy) and its parents' (multi-table
    inheritance, whose parents get no signal of their own)."""
    meta = model._meta
    candidates = [model, meta.concrete_model, *meta.concrete_model._meta.get_parent_list()]
    return [label for label in dict.fromkeys(label_of(m) for m in candidates) if label in listed]


def on_save_or_delete(sender, instance, using, **kwargs):
    """``post_save`` and ``post_delete``."""
    labels = _listed_labels(sender, conf.models())
    if labels:
        queue(using, labels, [f"{label}:{instance.pk}" for label in labels])


def on_m2m_changed(sender, instance, action, model, pk_set, using, **kwargs):
    """``m2m_changed``: both sides of the relation, and the through model.
    A ``clear`` does not say which rows it removed: the other side is then
    told by its model label alone."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    listed = conf.models()
    models, tags = [], []
    for label in _listed_labels(type(instance), listed):
        models.append(label)
        tags.append(f"{label}:{instance.pk}")
    for label in _listed_labels(model, listed):
        models.append(label)
        tags.extend(f"{label}:{pk}" for pk in sorted(pk_set or (), key=str))
    models.extend(_listed_labels(sender, listed))
    if models:
        queue(using, models, tags)
