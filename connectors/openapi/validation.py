"""Checking a document against the official OpenAPI JSON Schema of its version.

Each violation becomes a warning with its JSON pointer; nothing is refused here (the importer
refuses only what it cannot use). The official schemas are vendored in ``schemas/`` (see the
README there); nothing is ever fetched: every validator gets an explicit registry with no
retrieval, because jsonschema's default registry would download unknown remote ``$ref``s.

Speed (GitHub's 5.7 MB description has 845 operations): jsonschema walks it in about 10 s, so
Swagger 2.0 and OpenAPI 3.0 (draft-04 schemas) go through fastjsonschema, compiled once per
process. Two changes make that compiled check several times faster without changing what it
accepts:

- ``oneOf: [X, Reference]`` becomes ``anyOf: [Reference, X]`` where X forbids a ``$ref`` key
  (``additionalProperties: false`` with no property or pattern matching ``$ref``): the two can
  never both match, so "exactly one" and "at least one" agree, and trying Reference first fails
  fast on the many plain schemas;
- the generated code's error-name building (``"...".format(**locals())`` on every call) is
  dropped: the compiled check only answers yes or no.

``format`` is not asserted, as in jsonschema's default. Only when the fast check says no is the
document cut into units (each path item, each component) and each failing unit walked with
jsonschema to list its violations. OpenAPI 3.1's schema is draft 2020-12, which fastjsonschema
does not support: jsonschema's Draft202012Validator checks it (its schema does not descend into
Schema Objects, so it is quick).
"""

import functools
import json
import re
from pathlib import Path

import fastjsonschema
import jsonschema
import referencing
import referencing.jsonschema
from jsonschema.exceptions import best_match

from .errors import pointer_join

MAX_WARNINGS = 200
_SCHEMAS = Path(__file__).resolve().parent / "schemas"
_IDS = {"2.0": "urn:openapi-platform:oas-2.0", "3.0": None, "3.1": None}

# Units checked one by one when the whole document fails: (container path, definition of an entry).
_UNITS = {
    "2.0": {
        ("paths",): "pathItem",
        ("definitions",): "schema",
        ("parameters",): "parameter",
        ("responses",): "response",
    },
    "3.0": {
        ("paths",): "PathItem",
        ("components", "schemas"): "Schema",
        ("components", "responses"): "Response",
        ("components", "parameters"): "Parameter",
        ("components", "examples"): "Example",
        ("components", "requestBodies"): "RequestBody",
        ("components", "headers"): "Header",
        ("components", "securitySchemes"): "SecurityScheme",
        ("components", "links"): "Link",
        ("components", "callbacks"): "Callback",
    },
}


@functools.cache
def official_schema(dialect: str) -> dict:
    return json.loads((_SCHEMAS / f"openapi-{dialect}.json").read_text(encoding="utf-8"))


def _schema_id(dialect: str) -> str:
    schema = official_schema(dialect)
    return _IDS.get(dialect) or schema.get("$id") or schema["id"]


@functools.cache
def _registry() -> referencing.Registry:
    """The official schemas and the draft-04 meta-schema (2.0 refers to it); no retrieval."""
    draft4 = referencing.jsonschema.DRAFT4
    resources = [
        (
            _schema_id(dialect),
            (draft4 if dialect != "3.1" else referencing.jsonschema.DRAFT202012).create_resource(
                official_schema(dialect)
            ),
        )
        for dialect in ("2.0", "3.0", "3.1")
    ]
    meta = jsonschema.Draft4Validator.META_SCHEMA
    resources.append(("http://json-schema.org/draft-04/schema", draft4.create_resource(meta)))
    registry = referencing.Registry().with_resources(resources)
    return registry.combine(referencing.jsonschema.EMPTY_REGISTRY).crawl()


def _jsonschema_validator(dialect: str, definition: str | None):
    key = "$defs" if dialect == "3.1" else "definitions"
    ref = _schema_id(dialect) + (f"#/{key}/{definition}" if definition else "")
    cls = jsonschema.Draft202012Validator if dialect == "3.1" else jsonschema.Draft4Validator
    return cls({"$ref": ref}, registry=_registry())


def _excludes_ref(definition: dict) -> bool:
    if definition.get("additionalProperties") is not False or "$ref" in definition.get("properties", {}):
        return False
    return not any(re.search(pattern, "$ref") for pattern in definition.get("patternProperties", {}))


def _faster_equivalent(schema: dict) -> dict:
    """The schema with ``oneOf [X, Reference]`` as ``anyOf [Reference, X]`` where X excludes ``$ref``."""
    schema = json.loads(json.dumps(schema))
    definitions = schema.get("definitions", {})

    def definition_of(branch):
        ref = branch.get("$ref", "") if type(branch) is dict else ""
        return definitions.get(ref.rsplit("/", 1)[-1], {}) if "#/definitions/" in ref else branch

    def is_reference(branch):
        return type(branch) is dict and branch.get("$ref", "").lower().endswith(("/reference", "/jsonreference"))

    stack = [schema]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            branches = node.get("oneOf")
            if type(branches) is list and len(branches) == 2:
                refs = [b for b in branches if is_reference(b)]
                others = [b for b in branches if not is_reference(b)]
                if (
                    len(refs) == 1
                    and len(others) == 1
                    and type(definition_of(others[0])) is dict
                    and _excludes_ref(definition_of(others[0]))
                ):
                    del node["oneOf"]
                    node["anyOf"] = [refs[0], others[0]]
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
    return schema


def _no_fetch(uri: str):
    if uri.rstrip("#") == "http://json-schema.org/draft-04/schema":
        return jsonschema.Draft4Validator.META_SCHEMA
    raise ValueError(f"{uri} is not fetched")


@functools.cache
def _compiled(dialect: str) -> dict:
    """fastjsonschema's code for the official schema, as a namespace of one function per definition."""
    code = fastjsonschema.compile_to_code(
        _faster_equivalent(official_schema(dialect)),
        handlers={"http": _no_fetch, "https": _no_fetch},
        detailed_exceptions=False,
        use_formats=False,
        # fastjsonschema fills in defaults by default: that would change the document.
        use_default=False,
    )
    code = code.replace(".format(**locals())", "")
    namespace: dict = {}
    exec(compile(code, f"<official OpenAPI {dialect} schema>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace


def _fast_function(dialect: str, definition: str | None):
    namespace = _compiled(dialect)
    functions = [name for name in namespace if name.startswith("validate")]
    root = min(functions, key=len)
    if definition is None:
        return namespace[root]
    wanted = f"{root}__definitions_{definition.lower()}"
    return namespace.get(wanted)


def _fast_ok(function, value) -> bool:
    try:
        function(value)
    except (fastjsonschema.JsonSchemaException, RecursionError):
        return False
    return True


def validate_document(document: dict, dialect: str) -> list[str]:
    """Every violation of the official schema, as "at <pointer>: <what>" (at most MAX_WARNINGS + 1)."""
    collector = _Collector()
    if dialect == "3.1":
        collector.add_all(_jsonschema_validator(dialect, None), document, ())
        return collector.result()
    if _fast_ok(_fast_function(dialect, None), document):
        return []
    rest = dict(document)
    units = []
    for container_path, definition in _UNITS[dialect].items():
        container = document
        for key in container_path:
            container = container.get(key) if type(container) is dict else None
        if type(container) is not dict:
            continue
        _set_path(rest, container_path, {})
        for key, value in container.items():
            if key.startswith("x-"):
                continue
            entry_def = definition
            if type(value) is dict and "$ref" in value and dialect == "3.0":
                entry_def = "Reference"
            units.append(((*container_path, key), entry_def, value))
    collector.add_all(_jsonschema_validator(dialect, None), rest, ())
    for path, definition, value in units:
        function = _fast_function(dialect, definition)
        if function is not None and _fast_ok(function, value):
            continue
        collector.add_all(_jsonschema_validator(dialect, definition), value, path)
    return collector.result()


def _set_path(document: dict, path: tuple, value) -> None:
    node = document
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    node[path[-1]] = value


class _Collector:
    def __init__(self):
        self.warnings: list[str] = []
        self.more = 0

    def add_all(self, validator, value, prefix: tuple) -> None:
        try:
            errors = validator.iter_errors(value)
            for error in errors:
                if len(self.warnings) >= MAX_WARNINGS:
                    self.more += 1
                    continue
                self.warnings.append(_describe(error, prefix))
        except (RecursionError, referencing.exceptions.Unresolvable) as error:  # pragma: no cover - defensive
            self.warnings.append(f"at {pointer_join(prefix) or '/'}: could not be checked ({type(error).__name__})")

    def result(self) -> list[str]:
        if self.more:
            return [*self.warnings, f"and {self.more} more violations of the official OpenAPI schema"]
        return self.warnings


def _describe(error, prefix: tuple) -> str:
    while error.context:
        error = best_match(error.context)
    pointer = pointer_join((*prefix, *error.absolute_path)) or "/"
    message = error.message
    if len(message) > 300:
        message = message[:297] + "..."
    return f"at {pointer}: does not follow the OpenAPI schema: {message}"
