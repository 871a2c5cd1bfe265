"""The audit trail in the admin: read only (the services write it), scoped by the policy (an
organisation's platform administrators see its entries, the operator every entry), filtered by
action, object type, actor and date, each entry linking to its object, and exported as it is
filtered: CSV or JSON lines, streamed."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from accesscontrol import policy
from audit import export, links
from audit.models import AuditEntry
from integrations_platform.admin import OrganisationScopedAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    change_list_template = "admin/audit/auditentry/change_list.html"
    list_display = ["at", "actor", "action", "object_link", "changes_summary"]
    list_filter = ["action", "object_type", ("actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["actor", "organisation"]
    search_fields = ["object_repr", "object_id", "action", "actor__username"]
    date_hierarchy = "at"
    # The full count would be a second COUNT over every entry on each page.
    show_full_result_count = False
    fields = ["at", "organisation", "actor", "action", "object_link", "object_history", "changes_pretty"]
    readonly_fields = fields

    def get_list_display(self, request):
        if policy.is_operator(request.user):
            return ["at", "organisation", *self.list_display[1:]]
        return self.list_display

    def get_list_filter(self, request):
        if policy.is_operator(request.user):
            return [*self.list_filter, ("organisation", admin.RelatedOnlyFieldListFilter)]
        return self.list_filter

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="object", ordering="object_type")
    def object_link(self, entry):
        label = entry.object_repr or f"{entry.object_type} {entry.object_id}".strip()
        url = links.admin_url(entry)
        if url is None:
            return format_html("{} <small>({})</small>", label, entry.object_type)
        return format_html('<a href="{}">{}</a> <small>({})</small>', url, label, entry.object_type)

    @admin.display(description="history of the object")
    def object_history(self, entry):
        if not entry.object_id:
            return "—"
        url = links.admin_history_url(entry.object_type, entry.object_id)
        return format_html('<a href="{}">Every entry of this object</a>', url)

    @admin.display(description="what changed")
    def changes_summary(self, entry):
        return export.changes_summary(entry.changes)

    @admin.display(description="what changed")
    def changes_pretty(self, entry):
        return format_html("<pre>{}</pre>", json.dumps(entry.changes, cls=DjangoJSONEncoder, indent=2, sort_keys=True))

    def get_urls(self):
        return [
            path(
                "export/<slug:fmt>/",
                self.admin_site.admin_view(self.export_view),
                name="audit_auditentry_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request, fmt):
        """The entries of the list as filtered (the same query string), every page of them."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if fmt not in export.FORMATS:
            raise Http404("No such export format.")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:audit_auditentry_changelist") + "?e=1")
        return export.export_response(changelist.queryset, fmt)
