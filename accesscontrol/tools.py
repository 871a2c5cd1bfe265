"""A tool: one operation through one connection, as an assistant sees it. Plain Python, no database.

Names are stable whatever the filters: ``c{connection_id}__{operation name}``, at most 64
characters (OpenAI's and MCP's limit, ``^[A-Za-z0-9_-]{1,64}$``). A name that would be longer keeps
the start of the operation name and ends with a short digest of the whole of it, so two long names
never collide and :func:`parse_tool_name` still finds the connection.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import NamedTuple

TOOL_NAME_MAX = 64
DESCRIPTION_MAX = 1024
_DIGEST_LEN = 8
_NAME_RE = re.compile(r"^c(\d{1,18})__([A-Za-z0-9_.-]+)$")

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DESTRUCTIVE_METHODS = frozenset({"PUT", "PATCH", "DELETE"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
EMPTY_OBJECT_SCHEMA = '{"type": "object", "properties": {}}'
# What every call's result holds, for an operation whose output schema was not worked out by an import.
ANY_RESULT_SCHEMA = (
    '{"type":"object","properties":{"status_code":{"type":"integer"},'
    '"headers":{"type":"object","additionalProperties":{"type":"string"}},"body":{}},'
    '"required":["status_code","headers","body"]}'
)


def tool_name(connection_id: int, operation_name: str) -> str:
    prefix = f"c{connection_id}__"
    name = prefix + operation_name
    if len(name) <= TOOL_NAME_MAX:
        return name
    digest = hashlib.sha256(operation_name.encode()).hexdigest()[:_DIGEST_LEN]
    keep = TOOL_NAME_MAX - len(prefix) - _DIGEST_LEN - 1
    return f"{prefix}{operation_name[:keep]}_{digest}"


def parse_tool_name(name: str) -> tuple[int, str] | None:
    """``(connection_id, operation name or its truncated stem)``, or None when not a tool name."""
    if not isinstance(name, str) or len(name) > TOOL_NAME_MAX:
        return None
    match = _NAME_RE.match(name)
    if not match:
        return None
    return int(match.group(1)), match.group(2)


def tool_name_is_truncated(name: str) -> bool:
    return len(name) == TOOL_NAME_MAX and name[-_DIGEST_LEN - 1] == "_"


def tool_name_stem(name: str) -> str:
    """For a truncated name, the start of the operation name that it keeps."""
    parsed = parse_tool_name(name)
    return parsed[1][: -_DIGEST_LEN - 1] if parsed else ""


_escape = json.encoder.encode_basestring  # the C escaper behind json.dumps(..., ensure_ascii=False)


def _tags(text: str) -> list:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


class Tool(NamedTuple):
    """One tool, straight from a row of the selector's query (see ``selectors._TOOL_FIELDS``, in
    this order): a tuple, because ten thousand of them are built per ``tools/`` request."""

    connection_id: int
    connection_name: str
    connector_id: int
    connector_name: str
    operation_id: int
    operation_name: str
    method: str
    path: str
    summary: str
    operation_description: str
    # JSON texts as stored (tags list, input JSON Schema): parsed only when someone asks for them,
    # and spliced into responses as they are (10,000 tools carry about 10 MB of schemas).
    deprecated_flag: bool  # 0/1 on SQLite: read ``deprecated``
    confirmation_flag: bool  # 0/1 on SQLite: read ``requires_confirmation``
    method_right_id: int
    tags_json: str
    input_schema_json: str
    output_schema_json: str = ""

    @property
    def requires_confirmation(self) -> bool:
        return bool(self.confirmation_flag)

    @property
    def deprecated(self) -> bool:
        return bool(self.deprecated_flag)

    @property
    def name(self) -> str:
        return tool_name(self.connection_id, self.operation_name)

    @property
    def tags(self) -> list:
        return _tags(self.tags_json)

    @property
    def input_schema(self) -> dict:
        return json.loads(self._schema_text())

    @property
    def output_schema(self) -> dict:
        return json.loads(self._output_text())

    @property
    def read_only(self) -> bool:
        return self.method in READ_ONLY_METHODS

    @property
    def title(self) -> str:
        return (self.summary or f"{self.method} {self.path}")[:200]

    @property
    def description(self) -> str:
        text = self.summary or f"{self.method} {self.path}"
        if self.operation_description and self.operation_description != self.summary:
            text = f"{text}\n\n{self.operation_description}"
        suffix = (
            f"\n\n({self.method} {self.path} through the connection '{self.connection_name}'"
            f" to {self.connector_name}.)"
        )
        if self.deprecated:
            suffix += " Deprecated."
        if self.requires_confirmation:
            suffix += " The user must confirm each call before it runs."
        room = DESCRIPTION_MAX - len(suffix)
        if len(text) > room:
            text = text[: max(room - 1, 0)].rstrip() + "…"
        return (text + suffix)[:DESCRIPTION_MAX]

    def _schema_text(self) -> str:
        text = self.input_schema_json or ""
        if text[:1] != "{":
            text = text.strip()
            if text[:1] != "{":
                return EMPTY_OBJECT_SCHEMA
        if len(text) < 8 and text.replace(" ", "") == "{}":
            return EMPTY_OBJECT_SCHEMA
        return text

    def _output_text(self) -> str:
        text = self.output_schema_json or ""
        if text[:1] != "{":
            text = text.strip()
        if text[:1] != "{" or (len(text) < 8 and text.replace(" ", "") == "{}"):
            return ANY_RESULT_SCHEMA
        return text

    def _tags_text(self) -> str:
        text = self.tags_json or ""
        return text if text[:1] == "[" else "[]"

    def as_dict(self) -> dict:
        """The platform's own shape, as Python data."""
        return {
            "name": self.name,
            "description": self.description,
            "requires_confirmation": self.requires_confirmation,
            "method": self.method,
            "path": self.path,
            "tags": self.tags,
            "deprecated": self.deprecated,
            "operation": {"id": self.operation_id, "name": self.operation_name},
            "connection": {
                "id": self.connection_id,
                "name": self.connection_name,
                "connector_id": self.connector_id,
                "connector_name": self.connector_name,
            },
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }

    # --- the three shapes, each as JSON text ----------------------------------------------------
    # Written by hand (the C string escaper and the stored JSON texts), because json.dumps of
    # 10,000 dicts costs more than the database query that finds them.

    def to_json(self) -> str:
        return (
            f'{{"name":{_escape(self.name)},"description":{_escape(self.description)},'
            f'"requires_confirmation":{"true" if self.confirmation_flag else "false"},'
            f'"method":{_escape(self.method)},"path":{_escape(self.path)},"tags":{self._tags_text()},'
            f'"deprecated":{"true" if self.deprecated_flag else "false"},'
            f'"operation":{{"id":{int(self.operation_id)},"name":{_escape(self.operation_name)}}},'
            f'"connection":{{"id":{int(self.connection_id)},"name":{_escape(self.connection_name)},'
            f'"connector_id":{int(self.connector_id)},"connector_name":{_escape(self.connector_name)}}},'
            f'"input_schema":{self._schema_text()},"output_schema":{self._output_text()}}}'
        )

    def to_openai_json(self) -> str:
        return (
            f'{{"type":"function","function":{{"name":{_escape(self.name)},'
            f'"description":{_escape(self.description)},"parameters":{self._schema_text()}}}}}'
        )

    def mcp_annotations(self) -> dict:
        read_only = self.method in READ_ONLY_METHODS
        return {
            "title": self.title,
            "readOnlyHint": read_only,
            "destructiveHint": (not read_only) and self.method in DESTRUCTIVE_METHODS,
            "idempotentHint": self.method in IDEMPOTENT_METHODS,
            "openWorldHint": True,
        }

    def to_mcp_json(self) -> str:
        hints = _MCP_HINTS.get(self.method) or _mcp_hints(self.method)
        annotations = f'{{"title":{_escape(self.title)},{hints}}}'
        return (
            f'{{"name":{_escape(self.name)},"title":{_escape(self.title)},'
            f'"description":{_escape(self.description)},"inputSchema":{self._schema_text()},'
            f'"outputSchema":{self._output_text()},"annotations":{annotations}}}'
        )


def _mcp_hints(method: str) -> str:
    read_only = method in READ_ONLY_METHODS
    destructive = (not read_only) and method in DESTRUCTIVE_METHODS
    idempotent = method in IDEMPOTENT_METHODS
    return (
        f'"readOnlyHint":{str(read_only).lower()},"destructiveHint":{str(destructive).lower()},'
        f'"idempotentHint":{str(idempotent).lower()},"openWorldHint":true'
    )


_MCP_HINTS = {m: _mcp_hints(m) for m in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")}


def tools_to_json(tools: list[Tool]) -> str:
    return "[" + ",".join(tool.to_json() for tool in tools) + "]"


def tools_to_openai_json(tools: list[Tool]) -> str:
    return "[" + ",".join(tool.to_openai_json() for tool in tools) + "]"


def tools_to_mcp_json(tools: list[Tool]) -> str:
    return '{"tools":[' + ",".join(tool.to_mcp_json() for tool in tools) + "]}"
