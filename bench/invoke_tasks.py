"""Tasks only the benchmark uses (the worker loads them with ``-I bench.invoke_tasks``)."""

import redis
from celery import shared_task
from django.conf import settings

from integrations_platform import outgoing

_redis = None


def _client():
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL)
    return _redis


@shared_task(name="bench.ping", ignore_result=True)
def ping(key: str) -> None:
    _client().rpush(key, b"1")


@shared_task(name="bench.call", ignore_result=True)
def call(url: str, key: str) -> None:
    response = outgoing.send(method="GET", url=url)
    _client().rpush(key, str(response.status).encode())
