"""Admin for connections, credentials, the catalog ("Add integration") and the integration switch.

Thin: forms check shapes, services do the work. Secrets are write-only here too.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accesscontrol import policy
from accesscontrol.services import connector_catalog_create
from connections import services
from connections.forms import CatalogForm, ConnectionAdminForm, CredentialAdminForm
from connections.models import Connection, ConnectionCredential, Credential
from connections.oauth import oauth_authorization_complete, oauth_authorization_start
from connections.selectors import credential_state
from connections.testing import connection_test
from connectors.catalog import CATALOG
from connectors.models import IntegrationType
from integrations_platform.admin import OrganisationScopedAdmin, OrganisationScopedInline, scope_form
from integrations_platform.errors import ApplicationError

ACCESS_DEFINED_ONCE = (
    "Defined once, at creation: to give access to other people, create another connection to the same connector."
)


def _secret_status(credential: Credential) -> str:
    state = credential_state(credential)
    if not state["secret_set"]:
        return "Not set"
    when = timezone.localtime(state["secret_changed_at"]).strftime("%Y-%m-%d %H:%M")
    who = state["secret_changed_by"] or "unknown"
    return f"Set, changed at {when} by {who}"


@admin.register(Credential)
class CredentialAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    form = CredentialAdminForm
    list_display = ["name", "kind", "organisation", "secret_status", "oauth_status", "used_by"]
    list_filter = ["kind", ("organisation", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organisation", "secret_changed_by"]
    search_fields = ["name"]
    readonly_fields = ["secret_status", "oauth_status", "oauth_redirect_uri", "oauth_connect"]

    def get_fieldsets(self, request, obj=None):
        secret_fields = [
            f"secret_{n}" for n in ("key", "password", "token", "client_secret", "connection_string", "signing_secret")
        ]
        fieldsets = [
            (None, {"fields": ["organisation", "name", "kind", "config_json"]}),
            (
                "Secret (write-only)",
                {
                    "fields": ["secret_status", *secret_fields, "custom_headers"],
                    "description": "Fill in only the fields of this kind. Stored values are never shown.",
                },
            ),
        ]
        if obj is not None and obj.kind == Credential.Kind.OAUTH2_AUTHORIZATION_CODE:
            fieldsets.append(("OAuth2", {"fields": ["oauth_redirect_uri", "oauth_status", "oauth_connect"]}))
        return fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret", "tokens").annotate(n_links=Count("connection_links"))

    @admin.display(description="secret")
    def secret_status(self, obj):
        return _secret_status(obj) if obj and obj.pk else "Not set"

    @admin.display(description="OAuth2 tokens")
    def oauth_status(self, obj):
        if not obj or not obj.kind.startswith("oauth2"):
            return "—"
        if obj.token_expires_at:
            return f"Connected, token valid until {timezone.localtime(obj.token_expires_at):%Y-%m-%d %H:%M}"
        return "Connected" if obj.token_version else "Not connected"

    @admin.display(description="used by", ordering="n_links")
    def used_by(self, obj):
        return obj.n_links

    @admin.display(description="Redirect URI to register with the provider")
    def oauth_redirect_uri(self, obj):
        return self._redirect_uri

    @admin.display(description="Connect")
    def oauth_connect(self, obj):
        if not obj or not obj.pk:
            return "Save first."
        url = reverse("admin:connections_credential_oauth_connect", args=[obj.pk])
        return format_html('<a class="button" href="{}">Connect</a>', url)

    def get_form(self, request, obj=None, **kwargs):
        self._redirect_uri = request.build_absolute_uri(reverse("admin:connections_credential_oauth_callback"))
        return super().get_form(request, obj, **kwargs)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.connection_links.exists():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            services.credential_update(
                credential=obj,
                actor=request.user,
                name=form.cleaned_data["name"],
                config=form.cleaned_config,
                secret=form.cleaned_secret,
            )
        else:
            created = services.credential_create(
                organisation=form.cleaned_data["organisation"],
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                config=form.cleaned_config,
                secret=form.cleaned_secret,
                created_by=request.user,
            )
            obj.pk = created.pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        services.credential_delete(credential=obj, actor=request.user)

    def get_urls(self):
        return [
            path(
                "<int:pk>/oauth/connect/",
                self.admin_site.admin_view(self.oauth_connect_view),
                name="connections_credential_oauth_connect",
            ),
            path(
                "oauth/callback/",
                self.admin_site.admin_view(self.oauth_callback_view),
                name="connections_credential_oauth_callback",
            ),
            *super().get_urls(),
        ]

    def oauth_connect_view(self, request, pk):
        credential = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, credential):
            return HttpResponseRedirect(reverse("admin:index"))
        redirect_uri = request.build_absolute_uri(reverse("admin:connections_credential_oauth_callback"))
        try:
            url = oauth_authorization_start(credential=credential, user=request.user, redirect_uri=redirect_uri)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:connections_credential_change", args=[pk]))
        return HttpResponseRedirect(url)

    def oauth_callback_view(self, request):
        # The state is bound to the person who started the flow and to the credential.
        if not self.has_module_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        try:
            credential = oauth_authorization_complete(
                user=request.user,
                state=request.GET.get("state"),
                code=request.GET.get("code"),
                error=request.GET.get("error"),
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:connections_credential_changelist"))
        self.message_user(request, f"{credential.name}: connected.", level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:connections_credential_change", args=[credential.pk]))


class ConnectionCredentialInline(OrganisationScopedInline, admin.TabularInline):
    model = ConnectionCredential
    extra = 0
    fields = ["purpose", "position", "credential"]
    ordering = ["purpose", "position", "id"]
    autocomplete_fields = []

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("credential")
        return queryset.defer("credential__secret", "credential__tokens")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "credential":
            organisation_id = getattr(request, "_connection_organisation_id", None)
            kwargs["queryset"] = Credential.objects.filter(organisation_id=organisation_id).defer("secret", "tokens")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Connection)
class ConnectionAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    form = ConnectionAdminForm
    inlines = [ConnectionCredentialInline]
    change_form_template = "admin/connections/connection/change_form.html"
    change_list_template = "admin/connections/connection/change_list.html"
    list_display = ["name", "connector", "organisation", "status_display", "access_level", "created_by"]
    list_filter = ["status", "access_level", "connector__integration_type"]
    list_select_related = ["connector", "organisation", "created_by"]
    search_fields = ["name", "connector__name"]
    readonly_fields = ["status_display", "access_and_rights", "created_by", "created_at", "updated_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["connector", "name", "variables_json", "access_level", "groups", "users", "organisations"]
        # Access is defined once, at creation: on change only its read-only summary is shown.
        return [
            "connector",
            "name",
            "variables_json",
            "access_and_rights",
            "status_display",
            "test_operation",
            "connect_timeout",
            "read_timeout",
            "error_notify_email",
            "error_notify_webhook_url",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_inlines(self, request, obj):
        return [ConnectionCredentialInline] if obj is not None else []

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            request._connection_organisation_id = obj.organisation_id
        return obj

    @admin.display(description="access")
    def access_and_rights(self, obj):
        from accesscontrol.admin import connection_rights_url
        from accesscontrol.selectors import connection_access_get

        access = connection_access_get(connection=obj)
        chosen = [o["name"] for o in access["organisations"]] + [g["name"] for g in access["groups"]]
        chosen += [u["username"] for u in access["users"]]
        return format_html(
            "{} level: {} (and the creator, {}).<br>"
            '<a href="{}">Who may call which method, and what needs confirmation</a>'
            '<br><small style="color:var(--body-quiet-color)">{}</small>',
            obj.get_access_level_display(),
            ", ".join(chosen) or "nobody chosen",
            access["creator"]["username"],
            connection_rights_url(obj.pk),
            ACCESS_DEFINED_ONCE,
        )

    @admin.display(description="status")
    def status_display(self, obj):
        if obj.status == Connection.Status.ACTIVE:
            return "Enabled"
        return format_html('<strong style="color:#ba2121">{}</strong>: {}', obj.get_status_display(), obj.status_reason)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            fields = {
                k: data[k]
                for k in (
                    "name",
                    "connect_timeout",
                    "read_timeout",
                    "error_notify_email",
                    "error_notify_webhook_url",
                    "test_operation",
                )
                if k in form.changed_data
            }
            if "variables_json" in form.changed_data:
                fields["variables"] = data["variables_json"] or []
            services.connection_update(connection=obj, actor=request.user, **fields)
        else:
            connector = data["connector"]
            created = services.connection_create(
                connector=connector,
                organisation=connector.organisation,
                name=data["name"],
                created_by=request.user,
                variables=data.get("variables_json"),
                access_level=data["access_level"],
                groups=list(data.get("groups") or []),
                users=list(data.get("users") or []),
                organisations=list(data.get("organisations") or []),
            )
            obj.pk = created.pk
            obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            services.audit_record(
                actor=request.user,
                action="connection.update",
                obj=form.instance,
                changes={"fields": ["action_credentials", "trigger_credentials"]},
            )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            for key, problems in exc.field_errors.items():
                self.message_user(request, f"{key}: {'; '.join(problems)}", level=messages.ERROR)
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        services.connection_delete(connection=obj, actor=request.user)

    def get_urls(self):
        return [
            path(
                "<int:pk>/test/",
                self.admin_site.admin_view(require_POST(self.test_view)),
                name="connections_connection_test",
            ),
            path("catalog/", self.admin_site.admin_view(self.catalog_view), name="connections_catalog"),
            path(
                "catalog/<slug:key>/", self.admin_site.admin_view(self.catalog_add_view), name="connections_catalog_add"
            ),
            *super().get_urls(),
        ]

    def test_view(self, request, pk):
        connection = get_object_or_404(self.get_queryset(request).select_related("connector"), pk=pk)
        if not self.has_change_permission(request, connection):
            return HttpResponseRedirect(reverse("admin:index"))
        result = connection_test(connection=connection, actor=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test of {connection}",
            "result": result,
            "connection": connection,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/connections/connection/test_result.html", context)

    def catalog_view(self, request):
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        enabled = _switched_on_for(request.user)
        services_list = [s for key, s in CATALOG.items() if enabled.get(key)]
        context = {
            **self.admin_site.each_context(request),
            "title": "Add integration",
            "services": services_list,
            "custom_enabled": enabled.get(IntegrationType.CUSTOM_OPENAPI, False),
            "opts": self.model._meta,
            "custom_url": _custom_openapi_url(),
        }
        return TemplateResponse(request, "admin/connections/catalog.html", context)

    def catalog_add_view(self, request, key):
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        service = CATALOG.get(key)
        if service is None or not _switched_on_for(request.user).get(key):
            self.message_user(request, "This integration type is unknown or switched off.", level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:connections_catalog"))
        form = scope_form(
            CatalogForm(
                request.POST or None,
                service=service,
                initial={"organisation": request.user.organisation_id, "name": service.name},
            ),
            request.user,
        )
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    connector = connector_catalog_create(
                        actor=request.user,
                        organisation=form.cleaned_data["organisation"],
                        catalog=key,
                        name=form.cleaned_data["name"],
                        settings=form.settings_values(),
                    )
                    config, secret = form.credential_values()
                    connection = None
                    if secret:
                        connection = services.catalog_connection_create(
                            connector=connector,
                            name=form.cleaned_data["connection_name"] or "Default",
                            created_by=request.user,
                            config=config,
                            secret=secret,
                        )
            except ApplicationError as exc:
                exc.add_to_form(form)
            else:
                self.message_user(request, f"{connector.name} added.", level=messages.SUCCESS)
                if connection is not None:
                    return HttpResponseRedirect(reverse("admin:connections_connection_change", args=[connection.pk]))
                return HttpResponseRedirect(reverse("admin:connections_connection_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Add {service.name}",
            "form": form,
            "service": service,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/connections/catalog_add.html", context)


def _switched_on_for(user) -> dict[str, bool]:
    """Which integration types the user may add from: on for the installation, and for their
    organisation (the operator, who may add to any organisation, sees the installation's switch)."""
    enabled = dict(IntegrationType.objects.values_list("key", "enabled"))
    if policy.is_operator(user) or not user.organisation_id:
        return enabled
    off = policy.organisation_switched_off_keys(user.organisation_id)
    return {key: on and key not in off for key, on in enabled.items()}


def _custom_openapi_url() -> str:
    try:
        return reverse("admin:connectors_connector_add")
    except NoReverseMatch:  # the connectors admin may not be merged yet
        return ""
