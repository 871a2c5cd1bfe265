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
from dataclasses import dataclass

TOOL_NAME_MAX = 64
DESCRIPTION_MAX = 1024
_DIGEST_LEN = 8
_NAME_RE = re.compile(r"^c(\d{1,18})__([A-Za-z0-9_.-]+)$")

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DESTRUCTIVE_METHODS = frozenset({"PUT", "PATCH", "DELETE"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
EMPTY_OBJECT_SCHEMA = '{"type": "object", "properties": {}}'


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


@dataclass(slots=True)
class Tool:
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
    tags: list
    deprecated: bool
    requires_confirmation: bool
    method_right_id: int
    # The input JSON Schema as JSON text, as stored: parsed only when someone asks for it, and
    # spliced into responses as it is (10,000 tools carry about 10 MB of schemas).
    input_schema_json: str

    @property
    def name(self) -> str:
        return tool_name(self.connection_id, self.operation_name)

    @property
    def input_schema(self) -> dict:
        value = json.loads(self.input_schema_json) if self.input_schema_json else {}
        return value if isinstance(value, dict) and value else json.loads(EMPTY_OBJECT_SCHEMA)

    @property
    def read_only(self) -> bool:
        return self.method in READ_ONLY_METHODS

    @property
    def title(self) -> str:
        return self.summary or f"{self.method} {self.path}"

    @property
    def description(self) -> str:
        parts = [self.summary or f"{self.method} {self.path}"]
        if self.operation_description and self.operation_description != self.summary:
            parts.append(self.operation_description)
        text = "\n\n".join(parts)
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
        text = (self.input_schema_json or "").strip()
        if not text.startswith("{") or text.replace(" ", "") == "{}":
            return EMPTY_OBJECT_SCHEMA
        return text

    # --- the three shapes, each as JSON text ----------------------------------------------------
    # Built by hand around the stored schema text, which is already JSON: no parse, no re-encode.

    def as_dict(self) -> dict:
        """The platform's own shape (without the schema, which :meth:`to_json` splices in)."""
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
        }

    def to_json(self) -> str:
        head = json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))
        return f'{head[:-1]},"input_schema":{self._schema_text()}}}'

    def to_openai_json(self) -> str:
        head = json.dumps(
            {"name": self.name, "description": self.description}, ensure_ascii=False, separators=(",", ":")
        )
        return f'{{"type":"function","function":{head[:-1]},"parameters":{self._schema_text()}}}}}'

    def mcp_annotations(self) -> dict:
        read_only = self.method in READ_ONLY_METHODS
        return {
            "title": self.title[:200],
            "readOnlyHint": read_only,
            "destructiveHint": (not read_only) and self.method in DESTRUCTIVE_METHODS,
            "idempotentHint": self.method in IDEMPOTENT_METHODS,
            "openWorldHint": True,
        }

    def to_mcp_json(self) -> str:
        head = json.dumps(
            {"name": self.name, "title": self.title[:200], "description": self.description,
             "annotations": self.mcp_annotations()},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return f'{head[:-1]},"inputSchema":{self._schema_text()}}}'


def tools_to_json(tools: list[Tool]) -> str:
    return "[" + ",".join(tool.to_json() for tool in tools) + "]"


def tools_to_openai_json(tools: list[Tool]) -> str:
    return "[" + ",".join(tool.to_openai_json() for tool in tools) + "]"


def tools_to_mcp_json(tools: list[Tool]) -> str:
    return '{"tools":[' + ",".join(tool.to_mcp_json() for tool in tools) + "]}"
