"""An oversized form post to the connector admin gets a form error, not a bare 400 page.

Django refuses a body above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with ``RequestDataTooBig`` the first
time anything reads ``request.POST``, and the CSRF middleware is the first to read it, so the
admin view never gets a say. This middleware, placed before the CSRF middleware, spots such a post
to the connector admin by its ``Content-Length``, leaves the body unread, gives the view an empty
``POST`` and sets ``request.connectors_post_too_big``. The view then saves nothing and answers
the form again with the error; since nothing is written, the CSRF check (which would refuse the
empty post) is not needed for that answer and is skipped for it alone.
"""

from __future__ import annotations

from django.conf import settings
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

ADMIN_PREFIX = "/admin/connectors/connector/"


class OversizedSchemaPostMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path.startswith(ADMIN_PREFIX):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if limit is not None and length > limit:
                request.connectors_post_too_big = True
                request._post = QueryDict()
                request._files = MultiValueDict()
                request._dont_enforce_csrf_checks = True
        return self.get_response(request)
