from django.db import models


class Topic(models.Model):
    name = models.CharField(max_length=50)


class Event(models.Model):
    title = models.CharField(max_length=100)
    topics = models.ManyToManyField(Topic, blank=True)


class EventProxy(Event):
    class Meta:
        proxy = True


class SpecialEvent(Event):
    """Multi-table inheritance: a save sends a signal for this model only."""

    note = models.CharField(max_length=50, blank=True)


class Unlisted(models.Model):
    name = models.CharField(max_length=50)
