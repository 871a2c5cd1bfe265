"""Login throttling: django-axes counts failed logins of the pages and the admin."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes's backend, for the logins that come with a request (the sign-in pages and the
    admin login, whose forms always pass one). An ``authenticate()`` call without a request (a
    management command, a test's ``Client.login``) has no client address to count against, and
    is not a login anyone can repeat from outside: it goes on to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
