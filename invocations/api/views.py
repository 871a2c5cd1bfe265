"""Invocations API: invoke, read (optionally waiting), history, confirm, reject. Thin: services decide."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations_platform import db
from invocations import selectors, services
from invocations.api.serializers import (
    InvocationCreateSerializer,
    InvocationDetailSerializer,
    InvocationFilterSerializer,
    InvocationSerializer,
    WaitSerializer,
)

WAIT_PARAM = OpenApiParameter("wait", float, description="Seconds (at most 60) to wait for a final state.")


class InvocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = InvocationSerializer
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        filters = InvocationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.invocation_list(user=self.request.user, **filters.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("connection", int),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[WAIT_PARAM], responses=InvocationDetailSerializer)
    def retrieve(self, request, pk=None):
        params = WaitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        invocation = selectors.invocation_wait(user=request.user, invocation_id=pk, wait=params.validated_data["wait"])
        return Response(InvocationDetailSerializer(invocation).data)

    @extend_schema(request=InvocationCreateSerializer, responses={201: InvocationDetailSerializer})
    def create(self, request):
        data = InvocationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        invocation = services.invocation_create(
            user=request.user,
            tool=values.get("tool"),
            connection=values.get("connection"),
            operation=values.get("operation"),
            arguments=values.get("arguments", {}),
            idempotency_key=values.get("idempotency_key"),
        )
        try:
            if values["wait"]:
                invocation = selectors.invocation_wait(
                    user=request.user, invocation_id=invocation.pk, wait=values["wait"]
                )
            else:
                invocation = selectors.invocation_get(user=request.user, invocation_id=invocation.pk)
            data = InvocationDetailSerializer(invocation).data
        except db.CONNECTION_ERRORS:
            # The call is saved and will run: a lost connection now must not answer an error that a
            # client would retry into a second call. Read it once more on a fresh connection.
            db.reset_connections()
            invocation = selectors.invocation_get(user=request.user, invocation_id=invocation.pk)
            data = InvocationDetailSerializer(invocation).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvocationDetailSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        invocation = selectors.invocation_get(user=request.user, invocation_id=pk)
        invocation = services.invocation_confirm(invocation=invocation, user=request.user)
        return Response(InvocationDetailSerializer(invocation).data)

    @extend_schema(request=None, responses=InvocationDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        invocation = selectors.invocation_get(user=request.user, invocation_id=pk)
        invocation = services.invocation_reject(invocation=invocation, user=request.user)
        return Response(InvocationDetailSerializer(invocation).data)
