"""Connector API: ``connectors/``, ``connectors/{id}/``, ``connectors/{id}/schema/``,
``connectors/{id}/operations/``.

Who may do what (decided here, enforced through the selectors):
- Reads: members of the organisation that owns the connector (designers need to see connectors).
  Another organisation's connector answers 404, whoever asks, platform administrators included.
  Connectors switched off are hidden from everyone but platform administrators.
- Writes (create, PATCH, DELETE, schema import): platform administrators, on their own
  organisation's connectors; anyone else gets 403 on a connector they can see.
- Create: the connector belongs to the caller's organisation. ``base_url`` may be left out: the
  schema's first absolute http(s) server is used. ``catalog`` makes a connector of a catalog
  service, when its integration type is switched on.

This is the presentation layer: it asks ``accesscontrol`` (the policy, and the access-control
services that keep method rights in step with a re-import); the domain layer of ``connectors``
(models, services, selectors, ``openapi/``) imports neither ``accesscontrol`` nor ``connections``.
- PATCH refuses immutable fields (id, organisation, protocol_type, versions, created_at,
  updated_at, current_version, ...) and unknown fields with 400 naming them. PUT is not offered.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db.models import F, Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accesscontrol import policy
from accesscontrol.selectors import connector_list_visible_to
from accesscontrol.services import connector_catalog_create, connector_schema_import
from connectors import selectors, services
from connectors.api.serializers import (
    ConnectorCreateSerializer,
    ConnectorSerializer,
    ConnectorUpdateSerializer,
    ConnectorVersionSerializer,
    OperationSerializer,
    SchemaImportResultSerializer,
    SchemaImportSerializer,
)
from connectors.models import ConnectorVersion
from integrations_platform.errors import ApplicationError

# API field name -> service field name, for PATCH.
PATCH_FIELDS = {
    "name": "name",
    "description": "description",
    "base_url": "base_url",
    "documentation_url": "documentation_url",
    "icon_url": "icon_url",
    "enabled": "enabled",
    "auth_scheme_config_ids": "auth_scheme_config_ids",
    "connection_variables": "variables",
    "approved_origins": "approved_origins",
}
READ_ONLY_FIELDS = frozenset(ConnectorSerializer.Meta.fields) | {"integration_type", "versions", "variables"}


def _object_body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ApplicationError("The body must be a JSON object.", field_errors={"non_field_errors": "Not an object."})
    return request.data


def _refuse_unknown(data: dict, allowed: set[str]) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ApplicationError(
            f"Unknown fields: {', '.join(unknown)}.", field_errors=dict.fromkeys(unknown, "Unknown field.")
        )


@contextmanager
def _api_field_names():
    """The services say ``variables``; the API says ``connection_variables``."""
    try:
        yield
    except ApplicationError as exc:
        exc.field_errors = {
            (f"connection_{key}" if key.split(".")[0] == "variables" else key): problems
            for key, problems in exc.field_errors.items()
        }
        raise


class ConnectorPermission(permissions.BasePermission):
    """Create: platform administrators. Other writes: platform administrators of the connector's
    organisation, checked on the object (so a connector one cannot see answers 404 first)."""

    message = "Only platform administrators of the organisation may change connectors."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if view.action == "create":
            return policy.may_write_connectors(request.user)
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return policy.may_write_connectors(request.user, obj)


@extend_schema_view(
    list=extend_schema(summary="The connectors of the caller's organisation"),
    retrieve=extend_schema(summary="One connector"),
    create=extend_schema(
        summary="Create a connector from an OpenAPI schema (or a catalog service)",
        request=ConnectorCreateSerializer,
        responses={201: ConnectorSerializer},
    ),
    partial_update=extend_schema(
        summary="Update a connector; immutable fields are refused",
        request=ConnectorUpdateSerializer,
        responses={200: ConnectorSerializer},
    ),
    destroy=extend_schema(summary="Delete a connector with its versions, methods and connections"),
)
class ConnectorViewSet(viewsets.ModelViewSet):
    serializer_class = ConnectorSerializer
    permission_classes = [ConnectorPermission]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return (
            connector_list_visible_to(user=self.request.user)
            .prefetch_related(
                "auth_schemes",
                Prefetch(
                    "versions", queryset=ConnectorVersion.objects.only("id", "connector_id", "number", "created_at")
                ),
            )
            .select_related("acknowledged_by", "created_by")
        )

    def _read(self, connector):
        return ConnectorSerializer(self.get_queryset().get(pk=connector.pk), context=self.get_serializer_context()).data

    def create(self, request, *args, **kwargs):
        data = _object_body(request)
        _refuse_unknown(data, set(ConnectorCreateSerializer().fields))
        serializer = ConnectorCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        common = {
            "organisation": request.user.organisation,
            "name": values["name"],
            "description": values["description"],
            "base_url": values["base_url"],
            "documentation_url": values["documentation_url"],
            "icon_url": values["icon_url"],
            "variables": [dict(v) for v in values.get("connection_variables", [])],
            "created_by": request.user,
        }
        with _api_field_names():
            connector = self._create(values, common)
        return Response(self._read(connector), status=status.HTTP_201_CREATED)

    def _create(self, values, common):
        if values.get("catalog"):
            return connector_catalog_create(
                actor=common["created_by"],
                organisation=common["organisation"],
                catalog=values["catalog"],
                name=common["name"],
                settings=values.get("settings") or {},
                description=common["description"],
            )
        connector, _ = services.connector_create_from_openapi(
            schema_text=values["openapi_schema"], acknowledged=values["acknowledged"], **common
        )
        return connector

    def partial_update(self, request, *args, **kwargs):
        connector = self.get_object()
        data = _object_body(request)
        fields = {}
        for key, value in data.items():
            if key in PATCH_FIELDS:
                fields[PATCH_FIELDS[key]] = value
            elif key in services.CONNECTOR_IMMUTABLE_FIELDS or key in READ_ONLY_FIELDS:
                raise ApplicationError(f"{key} cannot be changed.", field_errors={key: "This field cannot be changed."})
            else:
                raise ApplicationError(f"Unknown field: {key}.", field_errors={str(key): "Unknown field."})
        with _api_field_names():
            services.connector_update(connector=connector, actor=request.user, **fields)
        return Response(self._read(connector))

    def perform_destroy(self, instance):
        services.connector_delete(connector=instance, actor=self.request.user)

    @extend_schema(
        summary="Import a new schema version; answers what was added, removed and changed",
        request=SchemaImportSerializer,
        responses={201: SchemaImportResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="schema")
    def import_schema(self, request, pk=None):
        connector = self.get_object()
        data = _object_body(request)
        _refuse_unknown(data, {"openapi_schema"})
        serializer = SchemaImportSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        version = connector_schema_import(
            connector=connector, schema_text=serializer.validated_data["openapi_schema"], actor=request.user
        )
        body = {
            "version": ConnectorVersionSerializer(version).data,
            "added": version.added,
            "removed": version.removed,
            "changed": version.changed,
            "warnings": version.warnings,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The methods of the connector's current version",
        parameters=[
            OpenApiParameter("search", str, description="Part of the name, path, summary or tag."),
            OpenApiParameter("tag", str, description="Exact tag (the first tag of a method)."),
            OpenApiParameter("method", str, enum=list(selectors.HTTP_METHODS), description="HTTP method."),
        ],
        responses={200: OperationSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="operations", serializer_class=OperationSerializer)
    def operations(self, request, pk=None):
        connector = self.get_object()
        method = request.query_params.get("method")
        if method and method.upper() not in selectors.HTTP_METHODS:
            raise ApplicationError(
                "Unknown HTTP method.", field_errors={"method": f"Give one of {', '.join(selectors.HTTP_METHODS)}."}
            )
        qs = selectors.operation_list(
            connector=connector,
            search=request.query_params.get("search"),
            tag=request.query_params.get("tag"),
            method=method,
        ).annotate(
            first_version_number=F("first_version__number"),
            updated_in_version_number=F("updated_in_version__number"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OperationSerializer(page, many=True).data)
