"""The cache: Django's Redis cache on the platform's Redis, forgiving when Redis is away.

What the cache holds (throttle counts of failed logins and failed tokens) must never turn a Redis
outage into failed requests: while Redis is unreachable, reads answer "nothing cached" and writes
are dropped, logged once per outage. The counts then start again from zero, a price paid only
during an outage (failing open, as django-redis's ``IGNORE_EXCEPTIONS`` does).
"""

from __future__ import annotations

import logging
import threading

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class ForgivingRedisCache(RedisCache):
    _lock = threading.Lock()
    _down = False

    def _forgive(self, exc: Exception, default=None):
        with self._lock:
            if not ForgivingRedisCache._down:
                ForgivingRedisCache._down = True
                log.warning("The cache's Redis is unreachable (%s); going on without it.", type(exc).__name__)
        return default

    def _back(self) -> None:
        if ForgivingRedisCache._down:
            with self._lock:
                if ForgivingRedisCache._down:
                    ForgivingRedisCache._down = False
                    log.warning("The cache's Redis is back.")

    def _call(self, name: str, default, *args, **kwargs):
        try:
            value = getattr(super(), name)(*args, **kwargs)
        except (RedisError, OSError) as exc:
            return self._forgive(exc, default)
        self._back()
        return value

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def set(self, key, value, timeout=..., version=None):
        kwargs = {} if timeout is ... else {"timeout": timeout}
        return self._call("set", None, key, value, version=version, **kwargs)

    def add(self, key, value, timeout=..., version=None):
        kwargs = {} if timeout is ... else {"timeout": timeout}
        return self._call("add", False, key, value, version=version, **kwargs)

    def touch(self, key, timeout=..., version=None):
        kwargs = {} if timeout is ... else {"timeout": timeout}
        return self._call("touch", False, key, version=version, **kwargs)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def set_many(self, data, timeout=..., version=None):
        kwargs = {} if timeout is ... else {"timeout": timeout}
        return self._call("set_many", [], data, version=version, **kwargs)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except (RedisError, OSError) as exc:
            return self._forgive(exc, delta)  # the count starts again, as if the key were new
