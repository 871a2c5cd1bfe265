"""``audit/``: the organisation's audit trail for its platform administrators, filtered and paginated;
``audit/export/csv/`` and ``audit/export/jsonl/``: the same entries, every one, streamed."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import APIView

from accesscontrol import policy
from audit import export, selectors
from audit.api.serializers import AuditEntrySerializer

READERS_ONLY = "Only the organisation's platform administrators may read its audit trail."

FILTER_PARAMETERS = [
    OpenApiParameter("actor", int, description="The id of the user who acted."),
    OpenApiParameter("object_type", str, description="App label and model, such as connections.credential."),
    OpenApiParameter("object_id", str, description="One object's id (with object_type)."),
    OpenApiParameter("action", str, many=True, description="One or several actions, such as credential.update."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="From this time (a date: from its start)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Up to this time (a date: to its end)."),
]


class AuditPagination(LimitOffsetPagination):
    # A page is read whole: the exports are the way to every entry.
    max_limit = 1000


def _entries(request):
    if not policy.may_read_audit(request.user):
        raise PermissionDenied(READERS_ONLY)
    filters = selectors.audit_filters_clean(request.query_params)
    return selectors.audit_entries_filter(
        entries=selectors.audit_entry_list_visible_to(user=request.user), filters=filters
    )


class AuditEntryListView(APIView):
    @extend_schema(parameters=FILTER_PARAMETERS, responses=AuditEntrySerializer(many=True))
    def get(self, request):
        entries = _entries(request)
        paginator = AuditPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditEntrySerializer(page, many=True).data)


class AuditExportView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(export.FORMATS), description="csv or jsonl"),
            *FILTER_PARAMETERS,
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR},
        description="Every entry that the filters select, newest first, streamed as CSV or JSON lines.",
    )
    def get(self, request, fmt):
        entries = _entries(request)
        if fmt not in export.FORMATS:
            raise NotFound(f"No such export format: use {' or '.join(export.FORMATS)}.")
        return export.export_response(entries, fmt)
