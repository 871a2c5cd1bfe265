"""Turning resolved OpenAPI schema objects into standalone JSON Schema (draft 2020-12).

The input is what prance's resolver made of a part of the document: references inlined, the same
subtree shared wherever it was referenced, cycles left as ``$ref``. The output is a fresh tree:

- a ``$ref`` kept for a cycle becomes a reference into the schema's own ``$defs`` (the target
  copied there), so the result stands alone and stays finite;
- inlining deeper than ``INLINE_DEPTH`` schema levels is turned back into ``$defs`` references
  as well, so no stored schema is nested beyond what JSON tools handle;
- OpenAPI 3.0 / Swagger 2.0 dialect is translated: ``nullable`` / ``x-nullable`` to a type union,
  boolean ``exclusiveMinimum``/``exclusiveMaximum`` to numbers, ``type: file`` to a binary string.
  ``nullable`` widens only a ``type`` declared in the same schema object, as OpenAPI 3.0.3 says
  (and as it clarified for every 3.0.x: patch releases do not change the feature set): beside
  ``allOf``, ``$ref`` or no type at all it has no effect, so it never lets ``null`` through;
- ``format: int32`` / ``int64`` of an integer becomes the bounds it stands for (JSON Schema has no
  such format, and a value outside them is refused by the API);
- a property the schema marks ``readOnly`` is left out of what a request may send (the server sets
  it: OpenAPI says it SHOULD NOT be sent), and ``writeOnly`` out of what a response holds
  (``direction``), with its ``required`` entry.
"""

import re

from .refs import lookup

INLINE_DEPTH = 48

# Keywords whose value is a map of name -> schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
# Keywords whose value is literal data, copied as it is.
_LITERALS = frozenset({"example", "examples", "default", "enum", "const", "required", "type", "xml"})
_DEF_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class SchemaConverter:
    """Converts the schemas of one input schema; collects the ``$defs`` they need."""

    def __init__(
        self,
        *,
        document: dict,
        origins: dict[int, str],
        dialect: str,
        warnings: list[str],
        where: str = "/",
        direction: str = "request",
        inline_depth: int = INLINE_DEPTH,
    ):
        self.where = where
        # The property flag that means "never in this direction".
        self.hidden = "readOnly" if direction == "request" else "writeOnly"
        self.inline_depth = inline_depth
        self.document = document
        self.origins = origins
        self.legacy = dialect in ("2.0", "3.0")  # OpenAPI 3.0 / Swagger 2.0 schema dialect
        self.warnings = warnings
        self.defs: dict[str, object] = {}
        self._names: dict[str, str] = {}  # pointer -> def name
        self._pending: list[tuple[str, str]] = []

    def convert(self, schema) -> object:
        return self._convert(schema, 0)

    def finish(self, root: dict) -> dict:
        """Add the ``$defs`` the converted schemas refer to into ``root``."""
        while self._pending:
            pointer, name = self._pending.pop()
            self.defs[name] = self._def_value(pointer)
        if self.defs:
            root["$defs"] = dict(sorted(self.defs.items()))
        return root

    # -- internals -----------------------------------------------------

    def _def_ref(self, pointer: str) -> dict:
        name = self._names.get(pointer)
        if name is None:
            base = _DEF_NAME_UNSAFE.sub("_", pointer.rsplit("/", 1)[-1]) or "schema"
            name = base
            taken = set(self._names.values())
            counter = 2
            while name in taken:
                name = f"{base}_{counter}"
                counter += 1
            self._names[pointer] = name
            self._pending.append((pointer, name))
        return {"$ref": f"#/$defs/{name}"}

    def _def_value(self, pointer: str):
        # Follow chains of bare references; a chain that loops is an empty schema.
        seen = {pointer}
        target = _safe_lookup(self.document, pointer)
        while type(target) is dict and set(target) == {"$ref"} and type(target["$ref"]) is str:
            nxt = target["$ref"]
            if nxt in seen:
                self.warnings.append(f"at {pointer[1:] or '/'}: references only itself; read as an empty schema")
                return {}
            seen.add(nxt)
            target = _safe_lookup(self.document, nxt)
        return self._convert(target, 0)

    def _convert(self, node, depth: int):
        if type(node) is list:
            return [self._convert(item, depth + 1) for item in node]
        if type(node) is not dict:
            return node
        ref = node.get("$ref")
        if type(ref) is str and ref.startswith("#"):
            # A reference prance left in place: a cycle.
            return self._def_ref(ref)
        if depth > self.inline_depth:
            origin = self.origins.get(id(node))
            if origin is not None:
                return self._def_ref(origin)
        out = {}
        for key, value in node.items():
            if key == "properties" and type(value) is dict:
                hidden = [name for name, sub in value.items() if type(sub) is dict and sub.get(self.hidden) is True]
                out[key] = {
                    name: self._convert(sub, depth + 1) for name, sub in value.items() if name not in hidden
                }
                if hidden and type(node.get("required")) is list:
                    out["required"] = [name for name in node["required"] if name not in hidden]
            elif key == "required" and "required" in out:
                continue
            elif key in _SCHEMA_MAPS and type(value) is dict:
                out[key] = {name: self._convert(sub, depth + 1) for name, sub in value.items()}
            elif key in _LITERALS or key.startswith("x-"):
                out[key] = value
            else:
                out[key] = self._convert(value, depth + 1)
        for key in _invalid_keywords(out):
            self.warnings.append(
                f"at {self.where}: an input schema had {key!r} = {_short(out[key])}, "
                "which is not valid JSON Schema; removed"
            )
            del out[key]
        if self.legacy:
            _translate_legacy(out)
        _integer_bounds(out)
        return out


_SIMPLE_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null", "file"})
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = ("not", "additionalProperties", "items", "contains", "propertyNames", "if", "then", "else")


def _is_schema(value) -> bool:
    return type(value) is dict or type(value) is bool


def _invalid_keywords(out: dict) -> list[str]:
    """Keywords whose value no JSON Schema validator would accept (seen in published documents)."""
    bad = []
    kind = out.get("type")
    if kind is not None and not (
        (type(kind) is str and kind in _SIMPLE_TYPES)
        or (type(kind) is list and kind and all(type(k) is str and k in _SIMPLE_TYPES for k in kind))
    ):
        bad.append("type")
    required = out.get("required")
    if required is not None and not (type(required) is list and all(type(r) is str for r in required)):
        bad.append("required")
    for key in ("properties", "patternProperties", "$defs", "definitions"):
        if key in out and not (type(out[key]) is dict and all(_is_schema(v) for v in out[key].values())):
            bad.append(key)
    for key in _SCHEMA_LISTS:
        if key in out and not (type(out[key]) is list and out[key] and all(_is_schema(v) for v in out[key])):
            bad.append(key)
    for key in _SCHEMA_VALUES:
        if key in out and not _is_schema(out[key]) and not (key == "items" and type(out[key]) is list):
            bad.append(key)
    if "enum" in out and type(out["enum"]) is not list:
        bad.append("enum")
    return bad


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _safe_lookup(document, pointer: str):
    try:
        return lookup(document, pointer)
    except (KeyError, IndexError):
        return {}


def _translate_legacy(out: dict) -> None:
    """OpenAPI 3.0 / Swagger 2.0 schema keywords to their draft 2020-12 meaning (in place)."""
    if out.get("type") == "file":
        out["type"] = "string"
        out.setdefault("format", "binary")
    for key, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        flag = out.get(key)
        if type(flag) is bool:
            if flag and bound in out:
                out[key] = out.pop(bound)
            else:
                del out[key]
    nullable = out.pop("nullable", None)
    x_nullable = out.pop("x-nullable", None)
    kind = out.get("type")
    if (nullable is True or x_nullable is True) and kind is not None:
        # Only a type declared here is widened (OpenAPI 3.0.3); without one, nullable does nothing.
        if type(kind) is str:
            out["type"] = [kind, "null"]
        elif type(kind) is list and "null" not in kind:
            out["type"] = [*kind, "null"]
        if type(out.get("enum")) is list and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]


_INTEGER_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _integer_bounds(out: dict) -> None:
    """``format: int32``/``int64`` of an integer schema as the bounds it stands for."""
    bounds = _INTEGER_BOUNDS.get(out.get("format"))
    kind = out.get("type")
    if bounds is None or not (kind == "integer" or (type(kind) is list and "integer" in kind)):
        return
    low, high = bounds
    for key, value, better in (("minimum", low, max), ("maximum", high, min)):
        current = out.get(key)
        if type(current) in (int, float):
            out[key] = better(current, value)
        else:
            out[key] = value
