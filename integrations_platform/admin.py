"""Admin glue: the admin site and the one base every admin class of the platform stands on.

Who sees what is decided by :mod:`accesscontrol.policy`:

- the operator (a superuser) manages every organisation;
- a platform administrator manages their own organisation's rows, nothing of another (another
  organisation's object answers as if it did not exist);
- nobody else enters the admin at all, staff flag or not.

:class:`OrganisationScopedAdmin` applies this to a model through ``organisation_field``, the lookup
from the model to its owning organisation (``None``: only the operator manages it), to the list, to
every object view and to the choices of every foreign key and many-to-many field.
"""

from __future__ import annotations

from django.contrib import admin

from accesscontrol import policy

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
