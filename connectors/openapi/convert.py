"""Turning resolved OpenAPI schema objects into standalone JSON Schema (draft 2020-12).

The input is what prance's resolver made of a part of the document: references inlined, the same
subtree shared wherever it was referenced, cycles left as ``$ref``. The output is a fresh tree:

- a ``$ref`` kept for a cycle becomes a reference into the schema's own ``$defs`` (the target
  copied there), so the result stands alone and stays finite;
- inlining deeper than ``INLINE_DEPTH`` schema levels is turned back into ``$defs`` references
  as well, so no stored schema is nested beyond what JSON tools handle;
- OpenAPI 3.0 / Swagger 2.0 dialect is translated: ``nullable`` / ``x-nullable`` to a type union,
  boolean ``exclusiveMinimum``/``exclusiveMaximum`` to numbers, ``type: file`` to a binary string.
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

    def __init__(self, *, document: dict, origins: dict[int, str], dialect: str, warnings: list[str]):
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
        if depth > INLINE_DEPTH:
            origin = self.origins.get(id(node))
            if origin is not None:
                return self._def_ref(origin)
        out = {}
        for key, value in node.items():
            if key in _SCHEMA_MAPS and type(value) is dict:
                out[key] = {name: self._convert(sub, depth + 1) for name, sub in value.items()}
            elif key in _LITERALS or key.startswith("x-"):
                out[key] = value
            else:
                out[key] = self._convert(value, depth + 1)
        if self.legacy:
            _translate_legacy(out)
        return out


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
    if nullable is True or x_nullable is True:
        kind = out.get("type")
        if type(kind) is str:
            out["type"] = [kind, "null"]
        elif type(kind) is list:
            if "null" not in kind:
                out["type"] = [*kind, "null"]
        elif any(key in out for key in ("$ref", "allOf", "oneOf", "anyOf")):
            inner = dict(out)
            out.clear()
            out["anyOf"] = [inner, {"type": "null"}]
            return
        if type(out.get("enum")) is list and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
