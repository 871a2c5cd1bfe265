"""Admin glue: the admin site and the one base every admin class of the platform stands on.

Who sees what is decided by :mod:`accesscontrol.policy`:

- the operator (a superuser) manages every organisation;
- a platform administrator manages their own organisation's rows, nothing of another (another
  organisation's object answers as if it did not exist);
- nobody else enters the admin at all, staff flag or not.

:class:`OrganisationScopedAdmin` applies this to a model through ``organisation_field``, the lookup
from the model to its owning organisation (``None``: only the operator manages it), to the list, to
every object view and to the choices of every foreign key and many-to-many field. An object's
"History" page shows its entries of the audit trail: what the services recorded, whichever way the
change came (admin, API, pages, workers), not only the admin's own saves.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.text import capfirst

from accesscontrol import policy
from audit import export as audit_export
from audit import links as audit_links
from audit.selectors import audit_entries_of, audit_entry_list_in_admin

# Related models whose choices in a form are narrowed to what the user manages: model label ->
# lookup to the owning organisation.
CHOICE_SCOPES = {
    "accounts.organisation": "pk",
    "accounts.user": "organisation",
    "auth.group": "organisation_link__organisation",
    "connectors.connector": "organisation",
    "connectors.operation": "connector__organisation",
    "connections.connection": "organisation",
    "connections.credential": "organisation",
}


def is_platform_admin(user) -> bool:
    """Kept for templates and older callers: the policy's answer."""
    return policy.is_platform_admin(user)


def scope_choices(user, queryset):
    """``queryset`` (of a related model) narrowed to the rows ``user`` manages in the admin."""
    field = CHOICE_SCOPES.get(queryset.model._meta.label_lower)
    if field is None:
        return queryset
    queryset = policy.admin_scope(user, queryset, field)
    if queryset.model._meta.label_lower == "accounts.user" and not policy.is_operator(user):
        queryset = queryset.filter(is_superuser=False)
    return queryset


def scope_form(form, user):
    """Narrow the choices of every model-choice field of ``form`` (declared or generated) to what
    ``user`` manages; a posted id outside them is then an invalid choice. Returns the form."""
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if queryset is not None:
            field.queryset = scope_choices(user, queryset)
    return form


class PlatformAdminSite(admin.AdminSite):
    site_header = "Integrations platform"
    site_title = "Integrations platform"
    index_title = "Administration"

    def has_permission(self, request):
        return policy.may_enter_admin(request.user)


class OrganisationScopedAdmin:
    """Mixin for ``ModelAdmin``: rows, objects and choices limited by the policy."""

    organisation_field: str | None = "organisation"

    def _may(self, request, obj=None) -> bool:
        return policy.admin_may_manage(request.user, obj, self.organisation_field)

    def get_queryset(self, request):
        return policy.admin_scope(request.user, super().get_queryset(request), self.organisation_field)

    def has_module_permission(self, request):
        return self._may(request)

    def has_view_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_add_permission(self, request, *args):
        return self._may(request)

    def has_change_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        user = request.user

        class ScopedForm(form_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                scope_form(self, user)

        ScopedForm.__name__ = form_class.__name__
        return ScopedForm

    object_history_template = "admin/audit/auditentry/object_history.html"
    history_per_page = 100

    def history_view(self, request, object_id, extra_context=None):
        """The object's audit entries, newest first, read as the entries' own admin reads them."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = audit_entries_of(entries=audit_entry_list_in_admin(user=request.user), obj=obj)
        paginator = self.get_paginator(request, entries, self.history_per_page)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        rows = [
            {"entry": entry, "changes": audit_export.changes_summary(entry.changes, limit=500)} for entry in page
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "rows": rows,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            "pagination_required": paginator.num_pages > 1,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "object": obj,
            "opts": self.opts,
            "all_entries_url": audit_links.admin_history_url(obj._meta.label_lower, str(obj.pk)),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = scope_choices(request.user, formfield.queryset)
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = scope_choices(request.user, formfield.queryset)
        return formfield


class OrganisationScopedInline(OrganisationScopedAdmin):
    """Mixin for inlines: ``obj`` in the permission checks is the parent, ``organisation_field``
    is the parent's lookup to its organisation. The parent admin already limits which parents can
    be opened; the inline's own rows are those of the parent."""

    def get_queryset(self, request):
        return super(OrganisationScopedAdmin, self).get_queryset(request)

    def has_add_permission(self, request, obj=None):
        return self._may(request, obj)


# Older name, kept while the admin classes move over.
PlatformAdminOnlyMixin = OrganisationScopedAdmin
