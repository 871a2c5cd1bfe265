"""Request body parsers of the API."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from integrations_platform import jsondepth


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a bound on nesting: a body nested deeper than
    ``settings.API_MAX_JSON_DEPTH`` answers 400 saying so (the plain parser lets Python's
    ``RecursionError`` through as a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError:
            raise ParseError("The body is not valid UTF-8 text.") from None
        except AttributeError:  # no body
            raise ParseError("The body is empty.") from None
        try:
            return jsondepth.loads(text, max_depth=settings.API_MAX_JSON_DEPTH, parse_constant=_no_constant)
        except jsondepth.TooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
