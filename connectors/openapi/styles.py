"""OpenAPI parameter serialization (styles and explode), as plain functions over plain data.

Follows the style table of the OpenAPI Specification (3.1, which follows RFC 6570 for ``label``)
for a parameter named ``color`` with the values ``""``, ``"blue"``, ``["blue", "black", "brown"]``
and ``{"R": 100, "G": 200, "B": 150}``. Every value is percent-encoded as a whole (``safe=""``):
a ``/``, ``?``, ``#``, ``&`` or ``%`` inside a value can never become a delimiter of the URL. Only
the delimiters the style itself puts between values (``,`` ``.`` ``;`` ``=`` ``&`` ``|``) are literal.
"""

from __future__ import annotations

import json
from urllib.parse import quote

# allowReserved lets RFC 3986 reserved characters through unencoded, except the two that would
# end the value in a query string ("&" starts another parameter, "#" ends the URL).
RESERVED_ALLOWED = ":/?[]@!$'()*+,;="

PATH_STYLES = {"simple", "label", "matrix"}
QUERY_STYLES = {"form", "spaceDelimited", "pipeDelimited", "deepObject"}


class StyleError(ValueError):
    """A value that the parameter's style cannot express."""


def scalar(value) -> str:
    """The text of one primitive value (JSON spelling for booleans and null)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def encode(text: str, *, allow_reserved: bool = False) -> str:
    return quote(text, safe=RESERVED_ALLOWED if allow_reserved else "")


def _pairs(value: dict) -> list[tuple[str, str]]:
    return [(str(k), scalar(v)) for k, v in value.items()]


def _is_empty(value) -> bool:
    return isinstance(value, dict | list) and not value


def _deep_pairs(value, prefix: str = "") -> list[tuple[str, str]]:
    """``deepObject`` beyond what OpenAPI defines (one level of primitive values), as the APIs that
    use it read it (Stripe, Rails, PHP): nested objects as nested brackets (``card[address][city]``),
    arrays by index (``expand[0]=a&expand[1]=b``). Empty objects and arrays, and nulls, are left
    out, as RFC 6570 leaves out undefined values. Brackets are percent-encoded (``%5B``, ``%5D``),
    which every server decodes before reading them."""
    if isinstance(value, dict):
        items = [(encode(str(k)), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return [] if value is None else [(prefix, scalar(value))]
    pairs: list[tuple[str, str]] = []
    for key, item in items:
        pairs.extend(_deep_pairs(item, f"{prefix}%5B{key}%5D"))
    return pairs


def serialize_path(name: str, value, *, style: str = "simple", explode: bool = False) -> str:
    """A path parameter's text, ready to put in place of ``{name}`` in the path."""
    style = style or "simple"
    if style not in PATH_STYLES:
        raise StyleError(f"style {style!r} is not allowed for a path parameter")
    e = encode
    if isinstance(value, list):
        items = [e(scalar(v)) for v in value]
        if style == "simple":
            return ",".join(items)
        if style == "label":
            return "." + ("." if explode else ",").join(items)
        if explode:
            return "".join(f";{e(name)}={item}" for item in items) if items else f";{e(name)}"
        return f";{e(name)}=" + ",".join(items) if items else f";{e(name)}"
    if isinstance(value, dict):
        pairs = [(e(k), e(v)) for k, v in _pairs(value)]
        if style == "simple":
            return ",".join(f"{k}={v}" if explode else f"{k},{v}" for k, v in pairs)
        if style == "label":
            if explode:
                return "".join(f".{k}={v}" for k, v in pairs) or "."
            return "." + ",".join(f"{k},{v}" for k, v in pairs)
        if explode:
            return "".join(f";{k}={v}" for k, v in pairs) or f";{e(name)}"
        return f";{e(name)}=" + ",".join(f"{k},{v}" for k, v in pairs) if pairs else f";{e(name)}"
    text = e(scalar(value))
    if style == "simple":
        return text
    if style == "label":
        return f".{text}"
    return f";{e(name)}={text}" if text else f";{e(name)}"


def serialize_query(
    name: str, value, *, style: str = "form", explode: bool | None = None, allow_reserved: bool = False
) -> list[str]:
    """A query parameter as a list of already-encoded ``key=value`` pieces (joined with ``&``)."""
    style = style or "form"
    if explode is None:
        explode = style == "form"
    if style not in QUERY_STYLES:
        raise StyleError(f"style {style!r} is not allowed for a query parameter")

    def e(text: str) -> str:
        return encode(text, allow_reserved=allow_reserved)

    key = encode(name)
    if style == "deepObject":
        # A primitive value (an API's "a number or a range object", say) goes as form style does.
        return [f"{key}{brackets}={e(text)}" for brackets, text in _deep_pairs(value)]
    if _is_empty(value):
        # RFC 6570: an empty list or object is undefined, and an undefined value is left out.
        return []
    if isinstance(value, list):
        items = [e(scalar(v)) for v in value]
        if explode:
            return [f"{key}={item}" for item in items]
        sep = {"form": ",", "spaceDelimited": "%20", "pipeDelimited": "|"}[style]
        return [f"{key}={sep.join(items)}"]
    if isinstance(value, dict):
        pairs = [(encode(k), e(v)) for k, v in _pairs(value)]
        if explode:
            if style != "form":
                raise StyleError(f"style {style!r} with explode cannot express an object")
            return [f"{k}={v}" for k, v in pairs]
        sep = {"form": ",", "spaceDelimited": "%20", "pipeDelimited": "|"}[style]
        return [f"{key}=" + sep.join(f"{k}{sep}{v}" for k, v in pairs)]
    if style != "form":
        raise StyleError(f"style {style!r} needs an array or an object")
    return [f"{key}={e(scalar(value))}"]


def _check_header_text(text: str) -> str:
    if any(ord(ch) < 32 and ch != "\t" for ch in text) or "\x7f" in text:
        raise StyleError("line breaks and control characters are not allowed in a header or cookie value")
    return text


def serialize_header(value, *, explode: bool = False) -> str:
    """A header parameter (style simple). Refuses CR, LF and other control characters."""
    if isinstance(value, list):
        text = ",".join(scalar(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k}={v}" if explode else f"{k},{v}" for k, v in _pairs(value))
    else:
        text = scalar(value)
    return _check_header_text(text)


# Characters that would end a cookie value or the Cookie header.
_COOKIE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"


def serialize_cookie(name: str, value, *, explode: bool = True) -> dict[str, str]:
    """A cookie parameter (style form) as ``{cookie name: value}``."""
    _check_header_text(name)

    def e(text: str) -> str:
        return quote(_check_header_text(text), safe=_COOKIE_SAFE)

    if isinstance(value, dict):
        if explode:
            return {quote(k, safe=_COOKIE_SAFE): e(v) for k, v in _pairs(value)}
        return {name: ",".join(f"{e(k)},{e(v)}" for k, v in _pairs(value))}
    if isinstance(value, list):
        return {name: ",".join(e(scalar(v)) for v in value)}
    return {name: e(scalar(value))}
