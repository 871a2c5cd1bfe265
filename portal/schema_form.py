"""A "try it" form generated from a tool's input JSON Schema, and the parsing of what comes back.

Plain functions over plain data (no database): ``build_fields`` turns a JSON Schema into a tree of
field descriptions that the template ``portal/_schema_field.html`` renders; ``parse_arguments``
walks the same schema over the posted form data and answers the arguments and the errors, keyed
by field name. Validation against the schema (types, ranges, patterns) stays with the invocation
service; this module only converts text into JSON values and reports what cannot be converted.

Strings, numbers, integers, booleans, enums, nested objects (fieldsets) and arrays (one value a
line for arrays of plain values, a JSON text otherwise) are supported; anything else (``oneOf``,
``anyOf``, free-form objects) is a JSON text field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from integrations_platform import jsondepth

MAX_FIELD_CHARS = 65_536
MAX_DEPTH = 8

SCALARS = {"string", "integer", "number", "boolean"}


@dataclass
class Field:
    name: str  # the HTML name; unique in the form
    html_id: str
    label: str
    widget: str  # text, textarea, number, integer, checkbox, tristate, select, object, lines, json
    required: bool = False
    help: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    value: str = ""
    error: str = ""
    attrs: dict = field(default_factory=dict)
    item_type: str = ""

    @property
    def is_group(self) -> bool:
        return self.widget == "object"


def _type_of(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else None
    if kind is None:
        if "properties" in schema:
            return "object"
        if "enum" in schema:
            return "enum"
        if "items" in schema:
            return "array"
        return "any"
    if "enum" in schema and kind in SCALARS:
        return "enum"
    return kind if isinstance(kind, str) else "any"


def _segment(key: str) -> str:
    return quote(str(key), safe="").replace(".", "%2E")


def _html_id(name: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _help(schema: dict) -> str:
    parts = [str(schema.get("description") or schema.get("title") or "").strip()]
    fmt = schema.get("format")
    if fmt:
        parts.append(f"Format: {fmt}.")
    if "default" in schema:
        parts.append(f"Default: {json.dumps(schema['default'])}.")
    return " ".join(p for p in parts if p)[:2000]


def _enum_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def any_required(fields: list[Field]) -> bool:
    """Whether a field, at any depth, is required (the form then explains its mark)."""
    return any(spec.required or any_required(spec.children) for spec in fields)


def _field(key: str, schema: dict, name: str, required: bool, depth: int) -> Field:
    schema = schema if isinstance(schema, dict) else {}
    kind = _type_of(schema)
    spec = Field(
        name=name,
        html_id=_html_id(name),
        label=str(schema.get("title") or key),
        widget="text",
        required=required,
        help=_help(schema),
    )
    if kind == "object" and isinstance(schema.get("properties"), dict) and depth < MAX_DEPTH:
        spec.widget = "object"
        needed = set(schema.get("required") or [])
        for child_key, child in schema["properties"].items():
            spec.children.append(
                _field(child_key, child, f"{name}.{_segment(child_key)}", child_key in needed, depth + 1)
            )
    elif kind == "enum":
        spec.widget = "select"
        spec.choices = [("", "(not set)")] if not required else [("", "Choose…")]
        spec.choices += [(_enum_text(v), _enum_text(v)) for v in schema.get("enum") or []]
    elif kind == "boolean":
        spec.widget = "checkbox" if required else "tristate"
        spec.choices = [("", "(not set)"), ("true", "true"), ("false", "false")]
    elif kind in {"integer", "number"}:
        spec.widget = kind
        for attr, key_ in (("min", "minimum"), ("max", "maximum")):
            if isinstance(schema.get(key_), int | float):
                spec.attrs[attr] = schema[key_]
    elif kind == "string":
        long_text = (schema.get("maxLength") or 0) > 200 or schema.get("format") == "textarea"
        spec.widget = "textarea" if long_text else "text"
        if isinstance(schema.get("maxLength"), int):
            spec.attrs["maxlength"] = schema["maxLength"]
    elif kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        item_kind = _type_of(items)
        if item_kind in SCALARS or item_kind == "enum":
            spec.widget = "lines"
            spec.item_type = item_kind
            spec.help = (spec.help + " One value a line.").strip()
        else:
            spec.widget = "json"
            spec.help = (spec.help + " A JSON array.").strip()
    else:
        spec.widget = "json"
        spec.help = (spec.help + " JSON.").strip()
    if "default" in schema and spec.widget not in {"object"}:
        default = schema["default"]
        if spec.widget in {"json"}:
            spec.value = json.dumps(default)
        elif spec.widget == "lines" and isinstance(default, list):
            spec.value = "\n".join(_enum_text(v) for v in default)
        elif spec.widget in {"checkbox"}:
            spec.value = "true" if default is True else ""
        elif isinstance(default, bool):
            spec.value = "true" if default else "false"
        else:
            spec.value = _enum_text(default)
    return spec


def build_fields(schema: dict, prefix: str = "a") -> list[Field]:
    """The fields of a tool's input schema (an object whose properties are the arguments)."""
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    needed = set(schema.get("required") or [])
    return [_field(key, sub, f"{prefix}.{_segment(key)}", key in needed, 1) for key, sub in properties.items()]


class _Missing:
    pass


MISSING = _Missing()


def _convert_scalar(kind: str, text: str, schema: dict):
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("Enter a whole number.") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("Enter a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("Enter a finite number.")
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if kind == "boolean":
        if text.lower() in {"true", "on", "1", "yes"}:
            return True
        if text.lower() in {"false", "0", "no"}:
            return False
        raise ValueError("Choose true or false.")
    if kind == "enum":
        for option in schema.get("enum") or []:
            if _enum_text(option) == text:
                return option
        raise ValueError("Choose one of the listed values.")
    return text


def _parse(spec: Field, schema: dict, data, errors: dict[str, str]):
    schema = schema if isinstance(schema, dict) else {}
    if spec.widget == "object":
        result = {}
        props = schema.get("properties") or {}
        for child, key in zip(spec.children, props, strict=False):
            value = _parse(child, props[key], data, errors)
            if value is not MISSING:
                result[key] = value
        if not result and not spec.required:
            return MISSING
        return result
    raw = data.get(spec.name, "")
    raw = raw if isinstance(raw, str) else ""
    spec.value = raw
    if len(raw) > MAX_FIELD_CHARS:
        spec.value = ""
        errors[spec.name] = spec.error = f"Too long: at most {MAX_FIELD_CHARS} characters."
        return MISSING
    if spec.widget == "checkbox":
        return raw in {"true", "on"}
    text = raw.strip() if spec.widget not in {"text", "textarea"} else raw
    if text == "":
        if spec.required:
            errors[spec.name] = spec.error = "This field is required."
        return MISSING
    try:
        if spec.widget == "json":
            try:
                return jsondepth.loads(text)
            except jsondepth.TooDeep:
                raise
            except ValueError:
                raise ValueError("Enter valid JSON.") from None
        if spec.widget == "lines":
            items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            return [_convert_scalar(spec.item_type, line.strip(), items) for line in text.splitlines() if line.strip()]
        kind = {"tristate": "boolean", "select": "enum"}.get(spec.widget, spec.widget)
        return _convert_scalar(kind if kind in {"integer", "number", "boolean", "enum"} else "string", text, schema)
    except ValueError as exc:
        errors[spec.name] = spec.error = str(exc)
        return MISSING


def parse_arguments(schema: dict, data, prefix: str = "a") -> tuple[dict, dict[str, str], list[Field]]:
    """Arguments from posted form data. Answers (arguments, errors by field name, fields with the
    posted values and errors filled in, ready to render again)."""
    schema = schema if isinstance(schema, dict) else {}
    fields = build_fields(schema, prefix)
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    arguments: dict = {}
    errors: dict[str, str] = {}
    for spec, key in zip(fields, properties, strict=False):
        value = _parse(spec, properties[key], data, errors)
        if value is not MISSING:
            arguments[key] = value
    return arguments, errors, fields


def field_name_for_path(path, prefix: str = "a") -> str:
    """The HTML name of the field that holds an argument path such as ``body.title`` or
    ``["body", "title"]`` (how the invocation service names a wrong argument)."""
    if isinstance(path, str):
        segments = [s for s in re.split(r"[./]", path) if s and s != "$"]
    else:
        segments = [str(s) for s in path]
    names = [prefix]
    for segment in segments:
        if segment.isdigit():
            break  # an item of an array: the array's own field holds it
        names.append(_segment(segment))
    return ".".join(names)


def attach_errors(fields: list[Field], errors: dict[str, str]) -> list[str]:
    """Put errors (by HTML name) on the fields; answers the errors that belong to no field."""
    left = dict(errors)

    def walk(specs):
        for spec in specs:
            if spec.name in left:
                spec.error = left.pop(spec.name)
            walk(spec.children)

    walk(fields)
    # An error on a nested path whose exact field is not shown: the nearest parent takes it.
    for name in list(left):
        parts = name.split(".")
        while len(parts) > 1:
            parts.pop()
            parent = ".".join(parts)
            target = _find(fields, parent)
            if target is not None:
                target.error = (target.error + " " if target.error else "") + left.pop(name)
                break
    return list(left.values())


def _find(fields, name):
    for spec in fields:
        if spec.name == name:
            return spec
        found = _find(spec.children, name)
        if found is not None:
            return found
    return None
