"""Each operation's output schema: what a call's result holds (DESIGN.md, Operation).

``{"status_code", "headers", "body"}``, as an invocation stores its result, with the body's schema
taken from the operation's 2xx JSON responses (one: its schema; several: any of them; a 2xx without
a JSON body adds text or null), references resolved as for input schemas and ``writeOnly``
properties left out. This is MCP's ``outputSchema`` and what a process designer refers to as an
earlier step's output.

Real response schemas reach far: Stripe's reach almost every one of its 500 components through
expandable fields (680 KB of JSON Schema per method when complete). One converter per document
converts each component once, as a ``$defs`` entry; an operation's schema carries the components
it reaches, nearest first, as long as it stays within ``MAX_BYTES``; a reference to a component
left out becomes an empty schema (any value) whose ``description`` names it.
"""

from __future__ import annotations

import json

from .convert import SchemaConverter
from .refs import lookup

MAX_BYTES = 16 * 1024
_JSON_HINTS = ("application/json", "+json", "/json")

HEADERS_SCHEMA = {"type": "object", "additionalProperties": {"type": "string"}}
TEXT_OR_NULL = {"type": ["string", "null"]}
TOO_LARGE = "The body's schema is too large to describe here (see the connector's schema)."


def _is_json(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith(("+json", "/json"))


def _deref(document: dict, node, seen=()):
    while type(node) is dict and type(node.get("$ref")) is str and node["$ref"] not in seen:
        seen = (*seen, node["$ref"])
        try:
            node = lookup(document, node["$ref"])
        except (KeyError, IndexError):
            return None
    return node


def _status_schema(codes: list[str]) -> dict:
    exact = sorted({int(code) for code in codes if code.isdigit()})
    if codes and len(exact) == len(codes):
        return {"type": "integer", "enum": exact}
    return {"type": "integer", "minimum": 200, "maximum": 299}


def _refs_in(node, found: list[str]) -> list[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            ref = item.get("$ref")
            if type(ref) is str and ref.startswith("#/$defs/"):
                found.append(ref[len("#/$defs/") :])
            stack.extend(v for v in item.values() if type(v) in (dict, list))
        elif type(item) is list:
            stack.extend(v for v in item if type(v) in (dict, list))
    return found


def _cut(node, keep: set[str]):
    """``node`` with every reference to a component outside ``keep`` replaced by an empty schema."""
    if type(node) is list:
        return [_cut(item, keep) for item in node]
    if type(node) is not dict:
        return node
    ref = node.get("$ref")
    if type(ref) is str and ref.startswith("#/$defs/") and ref[len("#/$defs/") :] not in keep:
        return {"description": f"{ref[len('#/$defs/') :]}: not described here (see the connector's schema)"}
    return {key: _cut(value, keep) for key, value in node.items()}


class OutputSchemas:
    """The output schemas of one document's operations, sharing one conversion of its components."""

    def __init__(self, document: dict, *, dialect: str, warnings: list[str], max_bytes: int = MAX_BYTES):
        self.document = document
        self.swagger = dialect == "2.0"
        self.max_bytes = max_bytes
        # Every reference becomes a $defs entry at once (inline depth 0): components are converted
        # once per document, not once per operation.
        self.converter = SchemaConverter(
            document=document, origins={}, dialect=dialect, warnings=warnings, direction="response", inline_depth=-1
        )
        self._edges: dict[str, list[str]] = {}

    def _converted_defs(self) -> dict:
        # Convert what the last conversions asked for (and what those ask for, in turn).
        self.converter.finish({})
        return self.converter.defs

    def _bodies(self, operation: dict, produces) -> tuple[list[str], list, bool]:
        codes, bodies, other = [], [], False
        responses = operation.get("responses")
        if type(responses) is not dict:
            return codes, bodies, other
        for code, response in responses.items():
            code = str(code).upper()
            if not code.startswith("2"):
                continue
            codes.append(code)
            response = _deref(self.document, response)
            if type(response) is not dict:
                other = True
                continue
            if self.swagger:
                schema = response.get("schema")
                json_ok = not produces or any(type(m) is str and _is_json(m) for m in produces)
                if type(schema) is dict and json_ok:
                    bodies.append(schema)
                else:
                    other = True
                continue
            content = response.get("content")
            media = None
            if type(content) is dict:
                media = next((v for k, v in content.items() if type(k) is str and _is_json(k)), None)
            if type(media) is dict and type(media.get("schema")) in (dict, bool):
                bodies.append(media["schema"])
            else:
                other = True
        return codes, bodies, other

    def for_operation(self, operation: dict, *, produces=None) -> dict:
        codes, raw_bodies, other = self._bodies(operation, produces)
        bodies = []
        for raw in raw_bodies:
            converted = self.converter.convert(raw)
            if converted not in bodies:
                bodies.append(converted)
        if not bodies:
            body = {}
        elif len(bodies) == 1 and not other:
            body = bodies[0]
        else:
            body = {"anyOf": [*bodies, *([TEXT_OR_NULL] if other else [])]}
        root = {
            "type": "object",
            "properties": {"status_code": _status_schema(codes), "headers": HEADERS_SCHEMA, "body": body},
            "required": ["status_code", "headers", "body"],
        }
        return self._with_defs(root)

    def _with_defs(self, root: dict) -> dict:
        defs = self._converted_defs()
        # Components by distance from the root; keep whole rings of them while the text fits.
        rings: list[list[str]] = []
        seen: set[str] = set()
        frontier = [name for name in dict.fromkeys(_refs_in(root, [])) if name in defs]
        while frontier:
            ring = [name for name in frontier if name not in seen]
            if not ring:
                break
            seen.update(ring)
            rings.append(ring)
            following = []
            for name in ring:
                if name not in self._edges:
                    self._edges[name] = list(dict.fromkeys(_refs_in(defs[name], [])))
                following += [n for n in self._edges[name] if n in defs and n not in seen]
            frontier = list(dict.fromkeys(following))
        keep: list[str] = []
        size = len(json.dumps(root, separators=(",", ":")))
        for ring in rings:
            added = sum(len(json.dumps(defs[name], separators=(",", ":"))) + len(name) + 4 for name in ring)
            if size + added > self.max_bytes:
                break
            keep += ring
            size += added
        if len(keep) == len(seen):
            result = dict(root)
            if keep:
                result["$defs"] = {name: defs[name] for name in sorted(keep)}
        else:
            kept = set(keep)
            result = _cut(root, kept)
            if keep:
                result["$defs"] = {name: _cut(defs[name], kept) for name in sorted(keep)}
        if len(json.dumps(result, separators=(",", ":"))) > self.max_bytes:
            # Even the body's own schema is too large: say only what a result always is.
            result = {
                "type": "object",
                "properties": {
                    "status_code": root["properties"]["status_code"],
                    "headers": HEADERS_SCHEMA,
                    "body": {"description": TOO_LARGE},
                },
                "required": ["status_code", "headers", "body"],
            }
        return result
