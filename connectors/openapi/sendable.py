"""What a parameter's value can be, once sent: the input schema never accepts what cannot be.

A parameter's schema says what the API accepts; where it stands in the request adds what can be
written there at all. These rules are added to the parameter's converted schema at import
(:func:`sendable`), so that the argument validator refuses such a value with a clear message,
naming the argument, and the request builder never meets it:

- **path**: a value is never empty (``/users//repos`` matches no path), holds no control
  character, is not a ``.`` or ``..`` segment and holds no already-encoded slash, backslash, dot or
  NUL (the request builder refuses those: a server that decodes twice would read them as a path);
  an array or object is never empty;
- **query**, without ``allowEmptyValue``: a string is never empty (``events=`` is refused by APIs
  that do not allow empty values);
- **header** and **cookie**: no line break or other control character (a tab is allowed);
- a **required** array or object is never empty anywhere: an empty one is an undefined value
  (RFC 6570), which is left out of the request, so the required parameter would be missing;
- in a **form body** (``application/x-www-form-urlencoded``, ``multipart/form-data``) the same
  holds for its required fields, and, in fields sent as ``deepObject`` (nested brackets), at every
  level, where a key is also never empty nor holds a bracket (``a[]`` would read as a list).

Each added ``not`` carries a ``description`` that the argument validator turns into its message.
"""

from __future__ import annotations

PATH_UNSENDABLE = {
    "pattern": "(^|[/\\\\])\\.\\.?([/\\\\]|$)|%(2[fFeE]|5[cC]|00)|[\\u0000-\\u001f]",
    "description": (
        "control characters, '.' or '..' path segments, or an encoded slash, backslash, dot or NUL "
        "(%2F, %5C, %2E, %00), which cannot be sent in a path"
    ),
}
HEADER_UNSENDABLE = {
    "pattern": "[\\u0000-\\u0008\\u000a-\\u001f\\u007f]",
    "description": "line breaks or other control characters, which cannot be sent in a header or a cookie",
}


def _types(schema: dict) -> set[str]:
    kind = schema.get("type")
    if type(kind) is str:
        return {kind}
    if type(kind) is list:
        return {k for k in kind if type(k) is str}
    return set()


def _at_least(schema: dict, key: str, minimum: int) -> None:
    current = schema.get(key)
    if not (isinstance(current, int) and not isinstance(current, bool) and current >= minimum):
        schema[key] = minimum


def _refuse(schema: dict, unsendable: dict) -> None:
    """Add ``not: unsendable`` to ``schema``, beside a ``not`` it may already have."""
    existing = schema.get("not")
    if existing is None:
        schema["not"] = dict(unsendable)
    elif existing != unsendable and not (type(existing) is dict and unsendable in existing.get("anyOf", [])):
        schema["not"] = {"anyOf": [existing, dict(unsendable)]}


def _strings(schema: dict, *, location: str, allow_empty: bool) -> None:
    if location == "path":
        _at_least(schema, "minLength", 1)
        _refuse(schema, PATH_UNSENDABLE)
    elif location in ("header", "cookie"):
        _refuse(schema, HEADER_UNSENDABLE)
    elif location == "query" and not allow_empty:
        _at_least(schema, "minLength", 1)


def sendable(
    schema, *, location: str, required: bool, allow_empty: bool = False, content: bool = False, style: str = ""
):
    """``schema`` (a converted parameter schema, changed in place and returned) with what cannot be
    sent where the parameter stands refused. ``content``: the parameter is sent as a media type
    (``content`` in OpenAPI 3), as one JSON text: only the text's own rules apply."""
    if type(schema) is not dict or "$ref" in schema:
        return schema
    types = _types(schema)
    if content:
        return schema
    if "string" in types:
        _strings(schema, location=location, allow_empty=allow_empty)
    if "array" in types:
        if required or location == "path":
            _at_least(schema, "minItems", 1)
        items = schema.get("items")
        if type(items) is dict and "$ref" not in items and "string" in _types(items):
            # Items of a list are sent as values of the same place (an empty item is fine: "a,,b").
            items = schema["items"] = dict(items)
            if location == "path":
                _refuse(items, PATH_UNSENDABLE)
            elif location in ("header", "cookie"):
                _refuse(items, HEADER_UNSENDABLE)
    if "object" in types and (required or location == "path"):
        _at_least(schema, "minProperties", 1)
    if style == "deepObject":
        _nonempty(schema, required=required, deep=True)
    return schema


DEEP_KEYS = {"minLength": 1, "pattern": "^[^\\[\\]]*$"}


def _nonempty(schema, *, required: bool, deep: bool, depth: int = 0) -> None:
    if type(schema) is not dict or "$ref" in schema or depth > 32:
        return
    types = _types(schema)
    if required and "array" in types:
        _at_least(schema, "minItems", 1)
    if required and "object" in types:
        _at_least(schema, "minProperties", 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key) or []:
            _nonempty(member, required=required, deep=deep, depth=depth + 1)
    if not deep:
        return
    if "object" in types and schema.get("additionalProperties") is not False and "propertyNames" not in schema:
        schema["propertyNames"] = dict(DEEP_KEYS)
    inner_required = schema.get("required") if type(schema.get("required")) is list else []
    properties = schema.get("properties")
    if type(properties) is dict:
        for name, sub in properties.items():
            _nonempty(sub, required=name in inner_required, deep=True, depth=depth + 1)
    for key in ("items", "additionalProperties"):
        # An item of a list, or a value of a map, that is empty would vanish from the list or map.
        _nonempty(schema.get(key), required=True, deep=True, depth=depth + 1)


def sendable_form(schema, *, encoding: dict) -> None:
    """A form body's schema (changed in place) with what cannot be sent refused (see above)."""
    if type(schema) is not dict or "$ref" in schema:
        return
    required = schema.get("required") if type(schema.get("required")) is list else []
    properties = schema.get("properties")
    if type(properties) is not dict:
        return
    for name, sub in properties.items():
        field = encoding.get(name) if type(encoding.get(name)) is dict else {}
        _nonempty(sub, required=name in required, deep=field.get("style") == "deepObject")
