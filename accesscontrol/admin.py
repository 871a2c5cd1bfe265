"""Admin: a connection's grants and the grid of its methods' rights, for platform administrators.

The grid lives at ``admin:accesscontrol_connection_rights`` (``/admin/accesscontrol/methodright/
connection/<id>/``): the access group as defined at creation, then one row per method of the
connector (filter by HTTP method and tag, search, pages of 50) with one column per principal
(who may call it) and whether a call needs confirmation; a save of the page and bulk changes by
HTTP method or tag. The view only reads through selectors and writes through services.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from accesscontrol import policy
from accesscontrol.models import MethodRight
from accesscontrol.selectors import (
    connection_access_get,
    connection_principals,
    method_right_principal_keys,
    method_rights_rows,
)
from accesscontrol.services import method_rights_bulk, method_rights_update
from connections.models import Connection
from connectors.models import Operation
from integrations_platform.admin import OrganisationScopedAdmin
from integrations_platform.errors import ApplicationError

PAGE_SIZES = (25, 50, 100, 200)


def connection_rights_url(connection_id: int) -> str:
    """Where the rights grid of a connection is: link to it from the connection's admin page."""
    return reverse("admin:accesscontrol_connection_rights", args=[connection_id])


@admin.register(MethodRight)
class MethodRightAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """Every method right of the organisation's connections, read only; edit them in a connection's grid."""

    organisation_field = "connection__organisation"
    list_display = ("connection", "operation_label", "requires_confirmation", "grid_link")
    list_select_related = ("connection__connector", "operation")
    list_filter = ("requires_confirmation", "operation__method")
    search_fields = ("connection__name", "connection__connector__name", "operation__name", "operation__path")
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="method", ordering="operation__path")
    def operation_label(self, obj):
        return f"{obj.operation.method} {obj.operation.path}"

    @admin.display(description="rights")
    def grid_link(self, obj):
        return format_html('<a href="{}">grid</a>', connection_rights_url(obj.connection_id))

    def get_urls(self):
        return [
            path(
                "connection/<int:connection_id>/",
                self.admin_site.admin_view(self.rights_view),
                name="accesscontrol_connection_rights",
            ),
            *super().get_urls(),
        ]

    # --- the grid ------------------------------------------------------------------------------

    def rights_view(self, request, connection_id: int):
        if not self.has_module_permission(request):
            raise PermissionDenied
        connections = Connection.objects.select_related("connector", "organisation", "created_by")
        connection = policy.admin_scope(request.user, connections).filter(pk=connection_id).first()
        if connection is None:
            raise Http404("No such connection.")
        if request.method == "POST":
            return self._post(request, connection)
        filters = {
            "method": request.GET.get("method", "")[:10],
            "tag": request.GET.get("tag", "")[:200],
            "q": request.GET.get("q", "")[:200],
        }
        try:
            per_page = int(request.GET.get("per_page", 50))
        except ValueError:
            per_page = 50
        per_page = per_page if per_page in PAGE_SIZES else 50
        principals = connection_principals(connection=connection)
        rows = method_rights_rows(
            connection=connection, method=filters["method"] or None, tag=filters["tag"] or None,
            query=filters["q"] or None,
        )
        page = Paginator(rows, per_page).get_page(request.GET.get("page"))
        allowed = method_right_principal_keys(method_right_ids=[r["method_right"] for r in page if r["method_right"]])
        for row in page:
            row["cells"] = self._cells(row, principals, allowed.get(row["method_right"], set()))
        facets = Operation.objects.filter(connector_id=connection.connector_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Method rights: {connection}",
            "opts": self.model._meta,
            "connection": connection,
            "access": connection_access_get(connection=connection, principals=principals),
            "principals": principals,
            "page": page,
            "rows": list(page),
            "filters": filters,
            "per_page": per_page,
            "page_sizes": PAGE_SIZES,
            "methods": sorted(facets.order_by().values_list("method", flat=True).distinct()),
            "query_string": urlencode({k: v for k, v in {**filters, "per_page": per_page}.items() if v}),
            "total": len(rows),
        }
        return render(request, "admin/accesscontrol/connection_rights.html", context)

    @staticmethod
    def _cells(row, principals, allowed: set[str]):
        """The row's checkboxes, written here rather than in a template loop: a page of 200
        methods by 100 principals is 20,000 of them. Every value is an id or a fixed word."""
        op_id = int(row["operation"])
        parts = []
        for principal in principals:
            checked = " checked" if principal.key in allowed else ""
            parts.append(
                f'<td class="cell"><input type="checkbox" name="allow_{op_id}" value="{principal.key}"'
                f' aria-label="{escape(principal.name)}"{checked}></td>'
            )
        return mark_safe("".join(parts))  # noqa: S308 - ids and escaped names only

    def _post(self, request, connection):
        back = request.get_full_path()
        action = request.POST.get("action")
        try:
            if action == "save":
                changes = self._page_changes(request)
                count = method_rights_update(connection=connection, actor=request.user, changes=changes)
                messages.success(request, f"Saved: {count} method(s) changed.")
            elif action == "bulk":
                count = self._bulk(request, connection)
                messages.success(request, f"Bulk change: {count} method(s) changed.")
            else:
                messages.error(request, "Unknown action.")
        except ApplicationError as exc:
            details = "; ".join(f"{field}: {' '.join(problems)}" for field, problems in exc.field_errors.items())
            messages.error(request, f"{exc.message} {details}".strip())
        return HttpResponseRedirect(back)

    @staticmethod
    def _page_changes(request) -> list[dict]:
        changes = []
        for raw in request.POST.getlist("rows")[:1000]:
            if not raw.isdigit():
                raise ApplicationError("The form is damaged: reload the page.", field_errors={"rows": raw[:40]})
            op_id = int(raw)
            changes.append(
                {
                    "operation": op_id,
                    "principals": request.POST.getlist(f"allow_{op_id}"),
                    "requires_confirmation": f"confirm_{op_id}" in request.POST,
                }
            )
        if not changes:
            raise ApplicationError("Nothing to save.", field_errors={"rows": "No method on the page."})
        return changes

    @staticmethod
    def _bulk(request, connection) -> int:
        method = request.POST.get("bulk_method") or None
        tag = request.POST.get("bulk_tag") or None
        if method is None and tag is None:
            raise ApplicationError(
                "Choose an HTTP method or a tag for a bulk change.", field_errors={"bulk_method": "Required."}
            )
        mode = request.POST.get("bulk_mode", "keep")
        allow = {"allow": request.POST.getlist("bulk_principals"), "off": [], "keep": None}.get(mode, ())
        if allow == ():
            raise ApplicationError("Unknown bulk mode.", field_errors={"bulk_mode": mode[:20]})
        confirmation = {"on": True, "off": False}.get(request.POST.get("bulk_confirmation", "keep"))
        return method_rights_bulk(
            connection=connection, actor=request.user, method=method, tag=tag, allow_principals=allow,
            requires_confirmation=confirmation,
        )


__all__ = ["MethodRightAdmin", "connection_rights_url"]
