"""Admin for organisations, people, groups and API keys.

The operator (superuser) manages every organisation; a platform administrator sees their own
organisation, manages its people (never the operator's accounts, never the superuser flag or
model permissions) and its groups, and API keys: they may revoke any of their organisation's,
and issue one only for themselves (a key issued for someone else would let them act as that
person).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect

from accesscontrol import policy
from accounts.models import ApiKey, Organisation, User
from accounts.services import (
    api_key_create,
    api_key_revoke,
    group_create,
    group_update,
    organisation_ensure_company_group,
    user_sync_company_group,
)
from integrations_platform.admin import OrganisationScopedAdmin
from integrations_platform.errors import ApplicationError


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """Organisations are the operator's to create, rename and delete; a platform administrator
    sees their own."""

    organisation_field = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request, *args):
        return policy.is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return policy.is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return policy.is_operator(request.user)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        organisation_ensure_company_group(organisation=obj)


@admin.register(User)
class UserAdmin(OrganisationScopedAdmin, BaseUserAdmin):
    list_display = ["username", "email", "organisation", "is_platform_admin", "is_designer", "is_active"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter), "is_platform_admin", "is_designer", "is_active"]
    list_select_related = ["organisation"]
    operator_fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Platform", {"fields": ["organisation", "is_platform_admin", "is_designer"]}),
    ]
    operator_add_fieldsets = [
        *BaseUserAdmin.add_fieldsets,
        ("Platform", {"fields": ["organisation", "is_platform_admin", "is_designer"]}),
    ]
    # A platform administrator: no superuser, staff or model-permission flags, and the
    # organisation is theirs (shown, never chosen).
    admin_fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Platform", {"fields": ["is_active", "is_platform_admin", "is_designer", "groups"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    admin_add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "usable_password", "password1", "password2"]}),
        ("Platform", {"fields": ["is_platform_admin", "is_designer"]}),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if policy.is_operator(request.user) else queryset.filter(is_superuser=False)

    def get_fieldsets(self, request, obj=None):
        operator = policy.is_operator(request.user)
        if obj is None:
            return self.operator_add_fieldsets if operator else self.admin_add_fieldsets
        return self.operator_fieldsets if operator else self.admin_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if policy.is_operator(request.user):
            return ()
        return ("last_login", "date_joined")

    def save_model(self, request, obj, form, change):
        if not policy.is_operator(request.user):
            obj.organisation_id = request.user.organisation_id
            obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user_sync_company_group(user=form.instance)


class GroupForm(forms.ModelForm):
    """A group of one organisation: its short name (the organisation prefix is added) and members."""

    short_name = forms.CharField(label="Name", max_length=100)
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.all(), required=False)
    members = forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True), required=False)

    class Meta:
        model = Group
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        link = getattr(self.instance, "organisation_link", None) if self.instance.pk else None
        if link is not None:
            self.fields["short_name"].initial = self.instance.name.split(": ", 1)[-1]
            self.fields["members"].initial = list(self.instance.user_set.values_list("pk", flat=True))
            self.fields["organisation"].initial = link.organisation_id
            self.fields["organisation"].disabled = True


if admin.site.is_registered(Group):  # Django's own, model-permission based
    admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """Groups of an organisation (grants at the groups level go to them). The company group of
    each organisation is kept by the platform: it holds every member and cannot be edited."""

    organisation_field = "organisation_link__organisation"
    form = GroupForm
    list_display = ["name", "organisation", "member_count", "is_company"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organisation_link__organisation")

    def get_fields(self, request, obj=None):
        fields = ["short_name", "members"]
        return ["organisation", *fields] if policy.is_operator(request.user) or obj is not None else fields

    @admin.display(description="organisation")
    def organisation(self, obj):
        link = getattr(obj, "organisation_link", None)
        return link.organisation if link else "—"

    @admin.display(description="members")
    def member_count(self, obj):
        return obj.user_set.count()

    @admin.display(description="whole company", boolean=True)
    def is_company(self, obj):
        link = getattr(obj, "organisation_link", None)
        return bool(link and link.is_company)

    def has_change_permission(self, request, obj=None):
        if obj is not None and self.is_company(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self.is_company(obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            group_update(group=obj, name=data["short_name"], members=list(data["members"]), actor=request.user)
            return
        organisation = data.get("organisation") if policy.is_operator(request.user) else None
        organisation = organisation or request.user.organisation
        created = group_create(
            organisation=organisation, name=data["short_name"], members=list(data["members"]), actor=request.user
        )
        obj.pk = created.pk
        obj.name = created.name

    def save_related(self, request, form, formsets, change):
        """Members are saved by the service above."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            details = "; ".join(f"{field}: {' '.join(problems)}" for field, problems in exc.field_errors.items())
            self.message_user(request, f"{exc.message} {details}".strip(), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(ApiKey)
class ApiKeyAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    organisation_field = "user__organisation"
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and not policy.is_operator(request.user):
            formfield.queryset = formfield.queryset.filter(pk=request.user.pk)
            formfield.initial = request.user.pk
        return formfield

    def save_model(self, request, obj, form, change):
        if not policy.is_operator(request.user) and obj.user_id != request.user.pk:
            raise PermissionDenied("You may issue API keys only for yourself.")
        key, raw = api_key_create(user=obj.user, name=obj.name)
        obj.pk = key.pk
        obj.prefix = key.prefix
        messages.warning(request, f"The new API key is {raw}. Copy it now: it is not shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
