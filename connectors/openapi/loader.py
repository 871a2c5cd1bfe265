"""Turning schema text into plain JSON-like data, safely and within limits.

Never reads a file or the network. YAML is read with PyYAML's safe loader (its C version when
available); before anything is built, the YAML event stream is scanned once so that nesting depth,
the number of aliases and the size the aliases expand to are bounded (a "billion laughs" document
is refused after reading its few hundred bytes, never expanded).
"""

import json
import math
from dataclasses import dataclass, field

import yaml

from .errors import SchemaEmpty, SchemaError, SchemaTooLarge, pointer_join

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlText(str):
    """A scalar that YAML typed as something JSON cannot hold (a date, binary), kept as its text."""

    kind = ""


class _YamlDate(_YamlText):
    kind = "a date"


class _YamlBinary(_YamlText):
    kind = "binary data"


class _SafeLoader(_BaseLoader):
    """The safe loader, keeping dates and binary scalars as their original text (marked for a warning)."""


def _construct_date(loader, node):
    return _YamlDate(loader.construct_scalar(node))


def _construct_binary(loader, node):
    return _YamlBinary("".join(loader.construct_scalar(node).split()))


_SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)
_SafeLoader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)


@dataclass
class Loaded:
    document: object
    source_format: str  # "json" | "yaml"
    warnings: list[str] = field(default_factory=list)


def load_text(text: str | bytes, *, max_bytes: int, max_depth: int, max_aliases: int) -> Loaded:
    text = _checked_text(text, max_bytes)
    stripped = text.lstrip()
    if not stripped:
        raise SchemaEmpty("The schema is empty.")
    if stripped[0] in "{[":
        # Text that starts like JSON is read as JSON only: YAML would accept many broken JSON
        # documents (as flow style) and hide the real mistake.
        return Loaded(_load_json(text, max_depth), "json")
    return Loaded(_load_yaml(text, max_depth, max_aliases), "yaml")


def _checked_text(text: str | bytes, max_bytes: int) -> str:
    too_big = f"The schema is larger than the limit of {max_bytes:,} bytes."
    if isinstance(text, bytes | bytearray | memoryview):
        if len(text) > max_bytes:
            raise SchemaTooLarge(too_big)
        raw = bytes(text)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SchemaError(f"The schema is not UTF-8 text (invalid byte at offset {error.start}).") from None
    if not isinstance(text, str):
        raise SchemaError("The schema must be text.")
    # A character takes at least one byte in UTF-8 and at most four: encode only when in doubt.
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes):
        raise SchemaTooLarge(too_big)
    return text.removeprefix("\ufeff")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _load_json(text: str, max_depth: int):
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise SchemaError(f"Invalid JSON: {error.msg}.", line=error.lineno, column=error.colno) from None
    except RecursionError:
        raise SchemaError(f"The schema is nested deeper than the limit of {max_depth} levels.") from None
    except ValueError as error:
        raise SchemaError(f"Invalid JSON: {error}.") from None
    _check_depth(document, max_depth)
    return document


def _check_depth(document, max_depth: int) -> None:
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise SchemaError(f"The schema is nested deeper than the limit of {max_depth} levels.")
        children = node.values() if type(node) is dict else node if type(node) is list else ()
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


def _yaml_error(error: yaml.YAMLError) -> SchemaError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"Invalid YAML: {context + ', ' if context else ''}{problem}."
    if mark is not None:
        return SchemaError(message, line=mark.line + 1, column=mark.column + 1)
    return SchemaError(message)


def _scan_yaml_events(text: str, max_depth: int, max_aliases: int) -> None:
    """Bound depth, aliases and alias expansion from the event stream, before building anything.

    Each node's size counts its aliases expanded, so a document whose aliases would multiply it
    (a "billion laughs") is refused without ever being expanded.
    """
    loader = _SafeLoader(text)
    try:
        anchor_sizes: dict[str, int] = {}
        open_anchors: set[str] = set()
        # One entry per open collection: [size so far, anchor]
        stack: list[list] = [[0, None]]
        aliases = 0
        real_nodes = 0
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                real_nodes += 1
                stack[-1][0] += 1
                if event.anchor is not None:
                    anchor_sizes[event.anchor] = 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                real_nodes += 1
                if len(stack) > max_depth:
                    raise SchemaError(
                        f"The schema is nested deeper than the limit of {max_depth} levels.",
                        line=event.start_mark.line + 1,
                        column=event.start_mark.column + 1,
                    )
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                stack.append([1, event.anchor])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                size, anchor = stack.pop()
                if anchor is not None:
                    anchor_sizes[anchor] = size
                    open_anchors.discard(anchor)
                stack[-1][0] += size
            elif kind is yaml.AliasEvent:
                aliases += 1
                where = {"line": event.start_mark.line + 1, "column": event.start_mark.column + 1}
                if aliases > max_aliases:
                    raise SchemaError(f"The YAML uses more than the limit of {max_aliases} aliases.", **where)
                if event.anchor in open_anchors:
                    raise SchemaError(f"The YAML alias *{event.anchor} refers to itself.", **where)
                stack[-1][0] += anchor_sizes.get(event.anchor, 1)
                # Expansion bound: aliases may at most double the document, plus some slack.
                if stack[-1][0] + sum(entry[0] for entry in stack[:-1]) > 2 * real_nodes + 100_000:
                    raise SchemaError("The YAML aliases expand the document far beyond its size (alias bomb).", **where)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    finally:
        loader.dispose()


def _load_yaml(text: str, max_depth: int, max_aliases: int):
    _scan_yaml_events(text, max_depth, max_aliases)
    loader = _SafeLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except RecursionError:
        raise SchemaError(f"The schema is nested deeper than the limit of {max_depth} levels.") from None
    finally:
        loader.dispose()


def normalize_yaml(document, warnings: list[str]):
    """Make a YAML-built tree plain JSON data: string keys, no dates, sets, bytes or NaN.

    Returns the (possibly replaced) root. Nodes shared through aliases are normalized once.
    """
    seen: set[int] = set()

    def fix_value(value, path):
        if isinstance(value, _YamlText):
            warnings.append(
                f"at {pointer_join(path) or '/'}: YAML read {value.kind} here; kept as the text {str(value)!r}"
            )
            return str(value)
        if type(value) is float and not math.isfinite(value):
            warnings.append(f"at {pointer_join(path) or '/'}: {value} is not a JSON number; replaced by null")
            return None
        if isinstance(value, set | frozenset | tuple):
            return list(value)
        return value

    root = fix_value(document, ())
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is dict:
            if any(type(key) is not str for key in node):
                items = list(node.items())
                node.clear()
                for key, value in items:
                    if type(key) is not str:
                        new_key = _key_text(key)
                        if type(key) is not int:
                            warnings.append(
                                f"at {pointer_join(path) or '/'}: the key {key!r} is not text; read as {new_key!r}"
                            )
                        key = new_key
                    node[key] = value
            for key, value in node.items():
                fixed = fix_value(value, (*path, key))
                if fixed is not value:
                    node[key] = fixed
                if type(fixed) is dict or type(fixed) is list:
                    stack.append((fixed, (*path, key)))
        elif type(node) is list:
            for index, value in enumerate(node):
                fixed = fix_value(value, (*path, index))
                if fixed is not value:
                    node[index] = fixed
                if type(fixed) is dict or type(fixed) is list:
                    stack.append((fixed, (*path, index)))
    return root


def _key_text(key) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, _YamlText):
        return str(key)
    if isinstance(key, tuple | list):
        return json.dumps(list(key), default=str)
    return str(key)
