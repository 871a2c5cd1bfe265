"""The Celery app. Tasks take ids only; the database row is the truth, the broker only carries work."""

import os

import redis
from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_platform.settings")

app = Celery("integrations_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _closed_connection_is_a_connection_error(connparams):
    """kombu 5.7 bug, found by the Redis restart drill: after Redis goes away, the worker closes the
    old channel and acknowledges finished late-ack tasks on it; that channel's connection is already
    gone (``client`` is None), which raises AttributeError in ``_connparams`` instead of a connection
    error, and the worker stops with "Unrecoverable error" instead of reconnecting. Raised as the
    connection error it is, kombu's and Celery's handlers log it and go on reconnecting. Nothing is
    lost: the row is the truth, and the outbox or the lease recovery sees to it."""

    def guarded(self, *args, **kwargs):
        if getattr(self.connection, "client", None) is None:
            raise redis.exceptions.ConnectionError("The broker connection of this channel is closed.")
        return connparams(self, *args, **kwargs)

    return guarded


kombu_redis.Channel._connparams = _closed_connection_is_a_connection_error(kombu_redis.Channel._connparams)
