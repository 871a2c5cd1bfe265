"""Renderers of ``tools/``: the platform's JSON, OpenAI function-calling tool definitions
(``?format=openai``) and MCP tool definitions (``?format=mcp``).

DRF chooses a renderer by the ``format`` query parameter (``URL_FORMAT_OVERRIDE``), so the two
ready-made shapes are renderers, all three answering ``application/json``. A list of
:class:`~accesscontrol.tools.Tool` is written by hand around each stored input schema (already
JSON text); anything else (an error body) goes through DRF's JSON renderer.
"""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer

from accesscontrol.tools import Tool, tools_to_json, tools_to_mcp_json, tools_to_openai_json


class _ToolsRenderer(JSONRenderer):
    media_type = "application/json"

    def to_json(self, tools: list[Tool]) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, list) and all(isinstance(item, Tool) for item in data):
            return self.to_json(data).encode("utf-8")
        return super().render(data, accepted_media_type, renderer_context)


class ToolsJSONRenderer(_ToolsRenderer):
    format = "json"

    def to_json(self, tools):
        return tools_to_json(tools)


class OpenAIToolsRenderer(_ToolsRenderer):
    """``[{"type": "function", "function": {"name", "description", "parameters"}}]``"""

    format = "openai"

    def to_json(self, tools):
        return tools_to_openai_json(tools)


class MCPToolsRenderer(_ToolsRenderer):
    """``{"tools": [{"name", "title", "description", "inputSchema", "outputSchema", "annotations"}]}`` as in MCP's
    ``tools/list`` result, with ``readOnlyHint``/``destructiveHint``/``idempotentHint`` from the
    HTTP method."""

    format = "mcp"

    def to_json(self, tools):
        return tools_to_mcp_json(tools)
