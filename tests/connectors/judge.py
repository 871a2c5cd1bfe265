"""An independent judge of HTTP requests: openapi-core's request validators over the original
specification (never over what the platform made of it).

Used by the conformance test (``test_conformance.py``), both on requests built by the pure request
builder and by the upstream server that receives calls made end to end. Swagger 2.0 documents are
judged against their OpenAPI 3.0 conversion by swagger2openapi (made by ``bench/fetch_specs.py``).

Where OpenAPI leaves a serialisation undefined, or openapi-core reads one differently from the
specification, the judge is told the reading that real APIs use, and nothing more:

- ``deepObject`` beyond one level of primitives (OpenAPI defines only that): nested brackets,
  ``card[address][city]=X``, and arrays as ``expand[0]=a`` or ``expand[]=a`` (Stripe's form, also
  Rails' and PHP's); values then go through openapi-core's casting and schema validation as usual.
- ``spaceDelimited``: openapi-core splits the *decoded* value on the text ``%20``; the judge splits
  it on a space.
- Query strings keep blank values (``events=`` is an empty value, which openapi-core refuses
  without ``allowEmptyValue``); a path keeps ``%2F`` encoded so that a value holding ``/`` stays
  one segment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from jsonschema_path import SchemaPath
from openapi_core.casting.schemas import oas30_write_schema_casters_factory, oas31_schema_casters_factory
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.styles import StyleDeserializersFactory, style_deserializers
from openapi_core.validation.request.exceptions import MissingRequestBody
from openapi_core.validation.request.validators import (
    V30RequestBodyValidator,
    V30RequestParametersValidator,
    V30RequestValidator,
    V31RequestBodyValidator,
    V31RequestParametersValidator,
    V31RequestValidator,
)
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def _nested_keys(key: str, name: str) -> list[str] | None:
    """``card[address][city]`` for ``card`` -> ``["address", "city"]``; None when not ``name[...]``."""
    if not key.startswith(name + "["):
        return None
    rest = key[len(name) :]
    parts = _BRACKETS.findall(rest)
    if "".join(f"[{p}]" for p in parts) != rest:
        return None
    return parts


def _insert(tree, parts: list[str], value):
    """Put ``value`` at ``parts`` in ``tree`` (dicts; a list where the keys are indices or empty)."""
    head, rest = parts[0], parts[1:]
    if head == "" or (head.isascii() and head.isdigit()):
        if not isinstance(tree, list):
            tree = []
        if head == "" or int(head) >= len(tree):
            if rest:
                tree.append(_insert(None, rest, value))
            else:
                tree.append(value)
        else:
            index = int(head)
            tree[index] = _insert(tree[index], rest, value) if rest else value
        return tree
    if not isinstance(tree, dict):
        tree = {}
    tree[head] = _insert(tree.get(head), rest, value) if rest else value
    return tree


def deep_object_loads(explode, name, schema_type, location):
    tree = None
    found = False
    for key, value in location.items(multi=True) if hasattr(location, "items") else []:
        parts = _nested_keys(key, name)
        if parts is None or not parts:
            continue
        found = True
        tree = _insert(tree, parts, value)
    if not found:
        raise KeyError(name)
    return tree


def space_delimited_loads(explode, name, schema_type, location):
    value = location[name]
    if (explode, schema_type) == (False, "array"):
        return value.split(" ")
    if (explode, schema_type) == (False, "object"):
        items = value.split(" ")
        return dict(zip(items[::2], items[1::2], strict=False))
    raise ValueError("not available")


STYLES = {**style_deserializers, "deepObject": deep_object_loads, "spaceDelimited": space_delimited_loads}


class _StyleDeserializers(StyleDeserializersFactory):
    """openapi-core reads a schema's ``type`` as one string; OpenAPI 3.1 allows a list
    (``["string", "null"]``): the judge reads the list's first type that is not null."""

    def create(self, spec, schema, style, explode, name):
        kind = (schema / "type").read_value() if "type" in schema else ""
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "")
        deserializer = super().create(spec, SchemaPath.from_dict({}), style, explode, name)
        deserializer.schema_type = kind if isinstance(kind, str) else ""
        deserializer.caster = self.schema_casters_factory.create(spec, schema)
        return deserializer


class _Items(ImmutableMultiDict):
    """A multi-dict whose ``items(multi=True)`` the deepObject reading uses."""


@dataclass
class JudgedRequest:
    """What openapi-core reads of a request (its ``Request`` protocol)."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters

    @classmethod
    def make(cls, *, method: str, url: str, headers: dict, body: bytes | None, host_url: str | None = None):
        parts = urlsplit(url)
        headers = {str(k): str(v) for k, v in (headers or {}).items()}
        cookies = {}
        for name, value in list(headers.items()):
            if name.lower() == "cookie":
                for piece in value.split(";"):
                    key, _, text = piece.strip().partition("=")
                    if key:
                        cookies[key] = unquote(text)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        # Decode the path except an encoded slash, which keeps a value holding "/" one segment.
        path = "%2F".join(unquote(piece) for piece in re.split("%2[Ff]", parts.path))
        return cls(
            host_url=host_url or f"{parts.scheme}://{parts.netloc}",
            path=path,
            method=method.lower(),
            body=body or None,
            content_type=content_type,
            parameters=RequestParameters(
                query=_Items(parse_qsl(parts.query, keep_blank_values=True)),
                header=Headers(headers),
                cookie=_Items(cookies),
            ),
        )


def load_document(path: Path) -> dict:
    text = path.read_bytes()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


class Judge:
    """The validators of one specification. ``problems(request, security=...)`` answers what is
    wrong with a request, one line each (empty when it is valid)."""

    def __init__(self, document: dict, *, base_url: str | None = None):
        version = str(document.get("openapi", ""))
        v31 = version.startswith("3.1")
        self.spec = SchemaPath.from_dict(document)
        casters = oas31_schema_casters_factory if v31 else oas30_write_schema_casters_factory
        styles = _StyleDeserializers(casters, style_deserializers=STYLES)
        kinds = (
            (V31RequestParametersValidator, V31RequestBodyValidator, V31RequestValidator)
            if v31
            else (V30RequestParametersValidator, V30RequestBodyValidator, V30RequestValidator)
        )
        options = {"base_url": base_url, "style_deserializers_factory": styles}
        self._parameters, self._body, self._whole = (kind(self.spec, **options) for kind in kinds)
        if not v31:
            # openapi-core applies "readOnly" to a parameter's own schema as if it were a property
            # sent in a body; OpenAPI defines it for properties only (GitHub marks alert numbers so).
            self._parameters = kinds[0](
                self.spec, schema_validators_factory=SchemaValidatorsFactory(OAS30Validator), **options
            )

    def problems(self, request: JudgedRequest, *, security: bool = False) -> list[str]:
        validators = (self._whole,) if security else (self._parameters, self._body)
        out = []
        for validator in validators:
            for error in validator.iter_errors(request):
                if isinstance(error, MissingRequestBody):
                    continue  # openapi-core's body validator reports an optional body left out
                out.append(describe(error))
        return list(dict.fromkeys(out))


def describe(error: BaseException) -> str:
    """The validator's reason, with the schema errors under it."""
    text = f"{type(error).__name__}: {error}"
    causes = []
    cause = error.__cause__
    while cause is not None and len(causes) < 3:
        inner = getattr(cause, "schema_errors", None)
        if inner:
            causes += [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in inner[:3]]
        else:
            causes.append(f"{type(cause).__name__}: {str(cause)[:200]}")
        cause = cause.__cause__
    inner = getattr(error, "schema_errors", None)
    if inner:
        causes += [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in inner[:3]]
    return text + ("" if not causes else " [" + "; ".join(causes) + "]")
