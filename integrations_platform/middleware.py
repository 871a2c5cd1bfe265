"""One answer for a request body larger than the server takes: 413, a plain page (JSON under the API).

Django refuses a body above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with ``RequestDataTooBig`` the first
time anything reads it (often the CSRF check), which it answers as a bare 400. This middleware,
before everything that reads a body, answers such a post by its ``Content-Length`` without reading
it; a body without a length that turns out too big reaches :func:`bad_request` (the 400 handler)
as ``RequestDataTooBig`` and gets the same answer. Nothing is skipped: a post within the limit goes
through every check as usual (CSRF included), and nothing is ever saved from a refused one.

The schema size limit (``OPENAPI_MAX_SCHEMA_BYTES``, well below this one) is checked in one place,
``connectors.services.schema_parse``, and answered as a field error next to the schema.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

MESSAGE = "The request body is larger than this server accepts."


def too_large(request) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.path.startswith("/api/"):
        return JsonResponse({"message": MESSAGE, "errors": {}, "code": "request_too_large"}, status=413)
    html = render_to_string("413.html", {"limit": limit, "message": MESSAGE})
    return HttpResponse(html, status=413, content_type="text/html; charset=utf-8")


def bad_request(request, exception=None):
    """Django's 400 handler, except that a body too large is answered 413 (see above)."""
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    return defaults.bad_request(request, exception)


class RequestTooLargeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return too_large(request)
        return self.get_response(request)
