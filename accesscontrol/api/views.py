"""``tools/`` and ``connections/{id}/operations/``: thin views over the selectors and services."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol.api.renderers import MCPToolsRenderer, OpenAIToolsRenderer, ToolsJSONRenderer
from accesscontrol.api.serializers import (
    MethodRightsDocumentSerializer,
    MethodRightsFilterSerializer,
    MethodRightsUpdateSerializer,
    ToolFilterSerializer,
    ToolSerializer,
)
from accesscontrol.selectors import connection_get_for_rights, method_rights_list, tool_list_for
from accesscontrol.services import method_rights_apply

_ERRORS = {
    400: OpenApiResponse(description="Invalid input: {message, errors: {field: [...]}}"),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed."),
    404: OpenApiResponse(description="No such connection, or not visible to you."),
}


class ToolsView(APIView):
    """Every tool the caller may call now, in one response (not paginated)."""

    renderer_classes = [ToolsJSONRenderer, OpenAIToolsRenderer, MCPToolsRenderer]
    pagination_class = None

    @extend_schema(
        operation_id="tools_list",
        summary="What the caller may call now",
        description=(
            "Every method the caller may call now: integration type switched on, connector enabled, connection "
            "granted to them, method allowed to them. Not paginated. `?format=openai` answers OpenAI "
            "function-calling tool definitions (`[{type: function, function: {name, description, parameters}}]`), "
            "`?format=mcp` MCP tool definitions "
            "(`{tools: [{name, title, description, inputSchema, outputSchema, annotations}]}`). Each tool's "
            "`output_schema` (`outputSchema`) describes what a call's result holds: `{status_code, headers, body}`."
        ),
        parameters=[
            OpenApiParameter("connection", OpenApiTypes.INT, description="Only the tools of this connection."),
            OpenApiParameter("tag", OpenApiTypes.STR, description="Only the methods with this tag."),
            OpenApiParameter("q", OpenApiTypes.STR, description="Text in the name, summary, path or connection."),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "openai", "mcp"], description="Shape."),
        ],
        responses={200: ToolSerializer(many=True), 400: _ERRORS[400], 401: _ERRORS[401]},
    )
    def get(self, request):
        params = ToolFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        tools = tool_list_for(
            user=request.user, connection_id=data.get("connection"), tag=data.get("tag"), query=data.get("q")
        )
        return Response(tools)


class ConnectionOperationsView(APIView):
    """Method-level rights of one connection: who may call each method, and confirmation."""

    @extend_schema(
        operation_id="connection_operations_rights",
        summary="Method-level rights of a connection",
        parameters=[
            OpenApiParameter("method", OpenApiTypes.STR, description="Only this HTTP method."),
            OpenApiParameter("tag", OpenApiTypes.STR, description="Only methods with this tag."),
            OpenApiParameter("q", OpenApiTypes.STR, description="Text in the name, path or summary."),
        ],
        responses={200: MethodRightsDocumentSerializer, **{k: v for k, v in _ERRORS.items() if k != 400}},
    )
    def get(self, request, pk: int):
        connection = connection_get_for_rights(user=request.user, connection_id=pk)
        params = MethodRightsFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return Response(
            method_rights_list(
                connection=connection, method=data.get("method"), tag=data.get("tag"), query=data.get("q")
            )
        )

    @extend_schema(
        operation_id="connection_operations_rights_update",
        summary="Change method-level rights",
        description=(
            "`changes`: per method, who may call it (`principals`, a subset of the connection's principals; "
            '"creator" names the creator) and/or `requires_confirmation`. `bulk`: the same for every method with '
            "an HTTP method and/or a tag. All or nothing; errors name the item (`changes.3.principals`). "
            "Platform administrators, and the designer who created the connection, only."
        ),
        request=MethodRightsUpdateSerializer,
        responses={200: MethodRightsDocumentSerializer, **_ERRORS},
    )
    def put(self, request, pk: int):
        connection = connection_get_for_rights(user=request.user, connection_id=pk)
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["Give an object with changes and/or bulk."]})
        unknown = set(body) - {"changes", "bulk"}
        if unknown:
            raise ValidationError({field[:40]: ["Unknown field."] for field in unknown})
        changed = method_rights_apply(
            connection=connection, actor=request.user, changes=body.get("changes"), bulk=body.get("bulk")
        )
        return Response({**method_rights_list(connection=connection), "changed": changed})
