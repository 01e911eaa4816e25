from django.db import models


class Event(models.Model):
    title = models.CharField(max_length=100)

    def get_absolute_url(self):
        return f"/events/{self.pk}/"
