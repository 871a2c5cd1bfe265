"""REST endpoints for connections and credentials. Thin: selectors filter, services write."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accesscontrol import policy
from connections import selectors, services
from connections.api import serializers as s
from connections.models import ConnectionCredential
from connections.testing import connection_test
from integrations_platform.errors import ApplicationError

MANAGERS_ONLY = "Only the organisation's platform administrators and the connection's creator may {what}."


def _with_links(qs):
    return qs.prefetch_related(
        Prefetch("credential_links", queryset=ConnectionCredential.objects.select_related("credential"))
    )


def _refuse_unknown(data, serializer) -> None:
    if not hasattr(data, "keys"):
        return
    unknown = sorted(str(k)[:50] for k in data if k not in serializer.fields)[:20]
    if unknown:
        raise ApplicationError("Unknown field(s).", field_errors={k: ["Unknown field."] for k in unknown})


def _require_manager(user):
    if not policy.may_manage_connections(user):
        raise PermissionDenied("Only the organisation's platform administrators and process designers may do this.")


class ConnectorConnectionsView(APIView):
    """``connectors/{id}/connections/``: the connector's connections the caller may use; create one."""

    @extend_schema(responses=s.ConnectionSerializer(many=True))
    def get(self, request, connector_id):
        connector = get_object_or_404(selectors.connector_list_visible_to(user=request.user), pk=connector_id)
        qs = _with_links(selectors.connection_list_visible_to(user=request.user, connector=connector)).order_by(
            "name", "pk"
        )
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.ConnectionSerializer(page, many=True).data)

    @extend_schema(request=s.ConnectionCreateSerializer, responses={201: s.ConnectionDetailSerializer})
    def post(self, request, connector_id):
        connector = get_object_or_404(selectors.connector_list_visible_to(user=request.user), pk=connector_id)
        _require_manager(request.user)
        serializer = s.ConnectionCreateSerializer(data=request.data)
        _refuse_unknown(request.data, serializer)
        serializer.is_valid(raise_exception=True)
        connection = services.connection_create(
            connector=connector, organisation=connector.organisation, created_by=request.user,
            **serializer.validated_data,
        )
        connection = _with_links(selectors.connection_list_visible_to(user=request.user)).get(pk=connection.pk)
        return Response(s.ConnectionDetailSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailView(APIView):
    """``connections/{id}/``: read, update (never the access group), delete."""

    def _get(self, request, pk):
        return get_object_or_404(_with_links(selectors.connection_list_visible_to(user=request.user)), pk=pk)

    def _manage(self, request, connection):
        if not policy.may_manage_connection(request.user, connection):
            raise PermissionDenied(MANAGERS_ONLY.format(what="change it"))

    @extend_schema(responses=s.ConnectionDetailSerializer)
    def get(self, request, pk):
        return Response(s.ConnectionDetailSerializer(self._get(request, pk)).data)

    @extend_schema(request=s.ConnectionUpdateSerializer, responses=s.ConnectionDetailSerializer)
    def patch(self, request, pk):
        connection = self._get(request, pk)
        self._manage(request, connection)
        immutable = sorted(k for k in ("id", "connector", "organisation", "created_by", "status") if k in request.data)
        if immutable:
            services.connection_update(connection=connection, actor=request.user, **dict.fromkeys(immutable))
        serializer = s.ConnectionUpdateSerializer(data=request.data, partial=True)
        _refuse_unknown(request.data, serializer)
        serializer.is_valid(raise_exception=True)
        services.connection_update(connection=connection, actor=request.user, **serializer.validated_data)
        return Response(s.ConnectionDetailSerializer(self._get(request, pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        connection = self._get(request, pk)
        self._manage(request, connection)
        services.connection_delete(connection=connection, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionTestView(APIView):
    """``connections/{id}/test/``: one harmless call, secrets replaced in what it shows."""

    @extend_schema(request=None, responses=s.ConnectionTestResultSerializer)
    def post(self, request, pk):
        connection = get_object_or_404(selectors.connection_list_visible_to(user=request.user), pk=pk)
        if not policy.may_manage_connection(request.user, connection):
            raise PermissionDenied(MANAGERS_ONLY.format(what="test it"))
        return Response(connection_test(connection=connection, actor=request.user))


class CredentialListView(APIView):
    """``credentials/``: the organisation's reusable credentials, metadata only."""

    @extend_schema(responses=s.CredentialSerializer(many=True))
    def get(self, request):
        _require_manager(request.user)
        qs = selectors.credential_list_visible_to(user=request.user).order_by("name", "pk")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.CredentialSerializer(page, many=True).data)

    @extend_schema(request=s.CredentialWriteSerializer, responses={201: s.CredentialSerializer})
    def post(self, request):
        _require_manager(request.user)
        serializer = s.CredentialWriteSerializer(data=request.data)
        _refuse_unknown(request.data, serializer)
        serializer.is_valid(raise_exception=True)
        credential = services.credential_create(
            organisation=request.user.organisation, created_by=request.user, **serializer.validated_data
        )
        return Response(s.CredentialSerializer(credential).data, status=status.HTTP_201_CREATED)


class CredentialDetailView(APIView):
    """``credentials/{id}/``: metadata; PATCH replaces the secret (write-only); DELETE unless in use."""

    def _get(self, request, pk):
        _require_manager(request.user)
        return get_object_or_404(selectors.credential_list_visible_to(user=request.user), pk=pk)

    @extend_schema(responses=s.CredentialSerializer)
    def get(self, request, pk):
        return Response(s.CredentialSerializer(self._get(request, pk)).data)

    @extend_schema(request=s.CredentialUpdateSerializer, responses=s.CredentialSerializer)
    def patch(self, request, pk):
        credential = self._get(request, pk)
        serializer = s.CredentialUpdateSerializer(data=request.data, partial=True)
        _refuse_unknown(request.data, serializer)
        serializer.is_valid(raise_exception=True)
        credential = services.credential_update(credential=credential, actor=request.user, **serializer.validated_data)
        return Response(s.CredentialSerializer(credential).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.credential_delete(credential=self._get(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
