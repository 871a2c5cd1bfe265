"""Connector admin, for platform administrators only.

- "Add connector" is the custom OpenAPI form (seed 000); the schema is parsed on save, errors
  appear next to the schema field and nothing is saved.
- The connector page shows its fields, its auth scheme configs (ordered), its default connection
  variables, the last import's added/removed/changed, the version history, and its methods grouped
  by tag, linking to the operation list (search, filter by method and tag, paginated), which stays
  usable with thousands of methods.
- "Import a new schema version" makes a new version through the same service as the API
  (``accesscontrol.services.connector_schema_import``, which keeps method rights in step).
- A method that no supported credential can call is shown so, with the reason.

This is the presentation layer: it asks ``accesscontrol`` (the policy decides who may do what);
the domain layer of ``connectors`` (models, services, selectors, ``openapi/``) does not.
A post too large for the server is answered 413 before it gets here
(``integrations_platform.middleware``); a schema above its own limit is a form error.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count
from django.forms import Textarea
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from accesscontrol import policy
from accesscontrol.services import connector_schema_import
from connectors.forms import ConnectorChangeForm, ConnectorOpenAPIForm, SchemaImportForm
from connectors.models import (
    AuthSchemeConfig,
    Connector,
    ConnectorVersion,
    IntegrationType,
    Operation,
    OrganisationIntegrationType,
)
from connectors.selectors import (
    HTTP_METHODS,
    connector_server_origins,
    connector_version_list,
    operation_tag_summary,
)
from connectors.services import (
    connector_create_from_openapi,
    connector_delete,
    connector_touch,
    connector_update,
    integration_type_set_enabled,
    organisation_integration_type_set,
    organisation_integration_types_ensure,
)
from integrations_platform.admin import OrganisationScopedAdmin, OrganisationScopedInline, scope_form
from integrations_platform.errors import ApplicationError

SHOWN_WARNINGS = 20
SUMMARY_SHOWN = 60  # characters of a method's summary in the method list


def report_warnings(request, warnings: list[str]) -> None:
    for warning in warnings[:SHOWN_WARNINGS]:
        messages.warning(request, warning)
    if len(warnings) > SHOWN_WARNINGS:
        messages.warning(request, f"… and {len(warnings) - SHOWN_WARNINGS} more warnings; see the version history.")


class AuthSchemeConfigInline(OrganisationScopedInline, admin.StackedInline):
    model = AuthSchemeConfig
    extra = 0
    fields = [("position", "scheme_name", "kind"), "config", "description"]
    ordering = ["position", "id"]
    # Stacked, with small boxes, so the connector page fits a 1280 px screen.
    formfield_overrides = {
        models.JSONField: {"widget": Textarea(attrs={"rows": 2, "cols": 40})},
        models.TextField: {"widget": Textarea(attrs={"rows": 2, "cols": 40})},
    }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "position" and formfield is not None:
            formfield.widget.attrs["style"] = "width:4em"
        return formfield


@admin.register(Connector)
class ConnectorAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    form = ConnectorChangeForm
    inlines = [AuthSchemeConfigInline]
    list_display = ["name", "organisation", "integration_type", "enabled", "version", "methods", "updated_at"]
    list_filter = ["integration_type", "enabled", ("organisation", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "description", "base_url"]
    list_select_related = ["organisation", "integration_type", "current_version"]
    readonly_fields = [
        "organisation",
        "integration_type",
        "protocol_type",
        "acknowledgement",
        "created",
        "updated_at",
        "server_origins",
    ]
    fieldsets = [
        (None, {"fields": ["name", "description", "base_url", "documentation_url", "icon_url", "enabled"]}),
        ("Connection variables", {"fields": ["variables"]}),
        ("Servers on other origins", {"fields": ["server_origins", "approved_origins"]}),
        (
            "About",
            {
                "fields": [
                    "organisation",
                    "integration_type",
                    "protocol_type",
                    "acknowledgement",
                    "created",
                    "updated_at",
                ]
            },
        ),
    ]
    change_form_template = "admin/connectors/connector/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("organisation", "integration_type", "current_version", "acknowledged_by", "created_by")
            .defer("current_version__document")
        )

    @admin.display(description="version", ordering="current_version__number")
    def version(self, obj):
        return obj.current_version.number if obj.current_version else "—"

    @admin.display(description="methods")
    def methods(self, obj):
        return obj.current_version.operation_count if obj.current_version else 0

    @admin.display(description="acknowledged")
    def acknowledgement(self, obj):
        if not obj.acknowledged_at:
            return "—"
        return f"by {obj.acknowledged_by or 'a deleted user'} at {obj.acknowledged_at:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="servers of methods")
    def server_origins(self, obj):
        """Which other origins the schema's methods name, and whether they are approved yet."""
        found = connector_server_origins(connector=obj) if obj.pk else []
        if not found:
            return "Every method calls the API endpoint."
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} method(s), {}",
            (
                (f["origin"], f["methods"], "approved" if f["approved"] else "refused until listed below")
                for f in found
            ),
        )

    @admin.display(description="created")
    def created(self, obj):
        return f"{obj.created_at:%Y-%m-%d %H:%M} UTC by {obj.created_by or '—'}"

    # --- URLs -----------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/import-schema/",
                self.admin_site.admin_view(self.import_schema_view),
                name="connectors_connector_import_schema",
            ),
            *super().get_urls(),
        ]

    # --- Add: the OpenAPI form ------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = scope_form(ConnectorOpenAPIForm(request.POST, request.FILES), request.user)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    connector, version = connector_create_from_openapi(
                        organisation=data["organisation"],
                        name=data["name"],
                        description=data["description"],
                        base_url=data["base_url"],
                        documentation_url=data["documentation_url"],
                        schema_text=data["schema_source"],
                        acknowledged=data["acknowledged"],
                        created_by=request.user,
                    )
                except ApplicationError as exc:
                    exc.add_to_form(form, default_field="openapi_schema")
                else:
                    self.log_addition(request, connector, [{"added": {}}])
                    messages.success(
                        request,
                        f"Connector “{connector}” created with {version.operation_count} methods "
                        f"(OpenAPI {version.openapi_version}).",
                    )
                    report_warnings(request, version.warnings)
                    return HttpResponseRedirect(reverse("admin:connectors_connector_change", args=[connector.pk]))
            return self._render_add(request, form, status=400)
        form = scope_form(ConnectorOpenAPIForm(initial_organisation=request.user.organisation), request.user)
        return self._render_add(request, form)

    def _render_add(self, request, form, status=200):
        context = {
            **self.admin_site.each_context(request),
            "title": "Add connector: custom OpenAPI",
            "opts": self.opts,
            "form": form,
            "has_view_permission": True,
            "add": True,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/connectors/connector/add_openapi.html", context, status=status)

    # --- Change ---------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if obj is not None:
            versions = list(connector_version_list(connector=obj)[:50])
            extra_context.update(
                {
                    "versions": versions,
                    "last_version": versions[0] if versions else None,
                    "tag_summary": operation_tag_summary(connector=obj),
                    "operations_url": reverse("admin:connectors_operation_changelist")
                    + "?"
                    + urlencode({"connector__id__exact": obj.pk}),
                    "operations_changelist_url": reverse("admin:connectors_operation_changelist"),
                    "import_url": reverse("admin:connectors_connector_import_schema", args=[obj.pk]),
                    "http_methods": HTTP_METHODS,
                }
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:  # The add view above never comes here.
            raise PermissionDenied
        values = getattr(form, "update_values", {})
        if values:
            connector_update(connector=obj, actor=request.user, **values)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if any(formset.has_changed() for formset in formsets):
            connector_touch(connector=form.instance, actor=request.user, reason="auth scheme configs edited")

    def get_deleted_objects(self, objs, request):
        # Deleting a connector takes its versions, methods and auth schemes with it (the service
        # decides); those have no delete right of their own in the admin.
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_model(self, request, obj):
        connector_delete(connector=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for connector in queryset:
            connector_delete(connector=connector, actor=request.user)

    # --- Import a new version -------------------------------------------------------------------

    def import_schema_view(self, request, object_id):
        connector = self.get_object(request, object_id)
        if connector is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, connector):
            raise PermissionDenied
        status = 200
        if request.method == "POST":
            status = 400
            form = SchemaImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    version = connector_schema_import(
                        connector=connector, schema_text=form.cleaned_data["schema_source"], actor=request.user
                    )
                except ApplicationError as exc:
                    exc.add_to_form(form, default_field="openapi_schema")
                else:
                    self.log_change(request, connector, f"Imported schema version {version.number}.")
                    messages.success(
                        request,
                        f"Version {version.number} imported: {len(version.added)} added, "
                        f"{len(version.removed)} removed, {len(version.changed)} changed.",
                    )
                    report_warnings(request, version.warnings)
                    return HttpResponseRedirect(reverse("admin:connectors_connector_change", args=[connector.pk]))
        else:
            form = SchemaImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import a new schema version of {connector}",
            "opts": self.opts,
            "original": connector,
            "form": form,
            "has_view_permission": True,
            "last_version": connector_version_list(connector=connector).first(),
        }
        return TemplateResponse(request, "admin/connectors/connector/import_schema.html", context, status=status)


class TagFilter(admin.SimpleListFilter):
    """Tags of the connector chosen in the list (all connectors' tags otherwise), one query."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        qs = model_admin.get_queryset(request)
        connector_id = request.GET.get("connector__id__exact")
        if connector_id and connector_id.isdigit():
            qs = qs.filter(connector_id=int(connector_id))
        tags = qs.order_by("tag").values("tag").annotate(n=Count("id"))[:500]
        return [(row["tag"] or "-", f"{row['tag'] or '(no tag)'} ({row['n']})") for row in tags]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(tag="" if value == "-" else value)


class MethodFilter(admin.SimpleListFilter):
    title = "method"
    parameter_name = "method"

    def lookups(self, request, model_admin):
        return [(m, m) for m in HTTP_METHODS]

    def queryset(self, request, queryset):
        return queryset.filter(method=self.value()) if self.value() else queryset


@admin.register(Operation)
class OperationAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """The methods of every connector, read-only: filter by connector, method and tag; search."""

    organisation_field = "connector__organisation"
    list_display = ["method", "path", "name", "tag", "summary_short", "deprecated", "usable", "connector"]
    list_display_links = ["method", "path", "name"]
    list_filter = [("connector", admin.RelatedOnlyFieldListFilter), MethodFilter, TagFilter, "deprecated"]
    search_fields = ["name", "path", "summary", "tag"]
    list_select_related = ["connector"]
    list_per_page = 100
    ordering = ["connector", "tag", "path", "method"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts would cost a count per tag
    fields = [
        "connector",
        "method",
        "path",
        "name",
        "tag",
        "tags",
        "summary",
        "description",
        "deprecated",
        "unusable_reason",
        "input_schema",
        "output_schema",
        "parameters",
        "request_body",
        "security",
        "servers",
        "first_version",
        "updated_in_version",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("connector")
            .only(
                "id", "method", "path", "name", "tag", "summary", "deprecated", "unusable_reason", "connector__id",
                "connector__name",
            )
            if request.resolver_match and request.resolver_match.url_name == "connectors_operation_changelist"
            else super().get_queryset(request)
        )

    def get_list_display(self, request):
        # Filtered by one connector, its column only repeats the filter and pushes the table
        # under the filter sidebar; the title names the connector instead.
        if request.GET.get("connector__id__exact"):
            return [name for name in self.list_display if name != "connector"]
        return self.list_display

    def changelist_view(self, request, extra_context=None):
        connector_id = request.GET.get("connector__id__exact", "")
        if connector_id.isdigit():
            connector = (
                policy.admin_scope(request.user, Connector.objects.filter(pk=int(connector_id))).only("name").first()
            )
            if connector is not None:
                extra_context = {**(extra_context or {}), "title": f"Methods of {connector.name}"}
        return super().changelist_view(request, extra_context)

    @admin.display(description="usable", boolean=True)
    def usable(self, obj):
        """No: no credential the platform supports can call it (the reason is on the method's page)."""
        return not obj.unusable_reason

    @admin.display(description="summary")
    def summary_short(self, obj):
        if len(obj.summary) <= SUMMARY_SHOWN:
            return obj.summary
        return obj.summary[: SUMMARY_SHOWN - 1].rstrip() + "…"

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IntegrationType)
class IntegrationTypeAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """The operator's switch of each integration type (each catalog service, custom OpenAPI as a
    whole) for the whole installation. Organisations switch within it (below)."""

    organisation_field = None  # the operator's only
    list_display = ["name", "key", "enabled", "connector_count"]
    list_editable = ["enabled"]
    fields = ["key", "name", "description", "enabled", "position"]
    readonly_fields = ["key", "name", "description", "position"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_connectors=Count("connectors"))

    @admin.display(description="connectors", ordering="n_connectors")
    def connector_count(self, obj):
        return obj.n_connectors

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        integration_type_set_enabled(integration_type=obj, enabled=obj.enabled, actor=request.user)


@admin.register(OrganisationIntegrationType)
class OrganisationIntegrationTypeAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """An organisation's platform administrators switch integration types for their organisation,
    within what the operator allows for the installation."""

    list_display = ["integration_type", "organisation", "installation", "enabled", "changed_by", "changed_at"]
    list_editable = ["enabled"]
    list_select_related = ["integration_type", "organisation", "changed_by"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter)]
    fields = ["integration_type", "organisation", "installation", "enabled", "changed_by", "changed_at"]
    readonly_fields = ["integration_type", "organisation", "installation", "changed_by", "changed_at"]
    ordering = ["organisation__name", "integration_type__position", "integration_type__name"]

    @admin.display(description="for the installation")
    def installation(self, obj):
        return "on" if obj.integration_type.enabled else "switched off by the operator"

    def changelist_view(self, request, extra_context=None):
        # One row per integration type for the organisation, so that every switch is there to set.
        if policy.is_platform_admin(request.user):
            organisation_integration_types_ensure(organisation=request.user.organisation)
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        organisation_integration_type_set(
            organisation=obj.organisation, integration_type=obj.integration_type, enabled=obj.enabled,
            actor=request.user,
        )


@admin.register(ConnectorVersion)
class ConnectorVersionAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """Read-only version history; the stored document is not loaded in the list."""

    organisation_field = "connector__organisation"
    list_display = ["connector", "number", "openapi_version", "operation_count", "changes", "created_at", "created_by"]
    list_filter = [("connector", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["connector", "created_by"]
    exclude = ["document"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("document")

    @admin.display(description="added / removed / changed")
    def changes(self, obj):
        return format_html("+{} −{} ~{}", len(obj.added), len(obj.removed), len(obj.changed))

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # versions go with their connector, through its service
