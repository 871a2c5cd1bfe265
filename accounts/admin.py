from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiKey, Organisation, User
from accounts.services import api_key_create, api_key_revoke, organisation_ensure_company_group, user_sync_company_group
from integrations_platform.admin import PlatformAdminOnlyMixin


@admin.register(Organisation)
class OrganisationAdmin(PlatformAdminOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        organisation_ensure_company_group(organisation=obj)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "organisation", "is_platform_admin", "is_designer", "is_staff"]
    list_filter = ["organisation", "is_platform_admin", "is_designer", "is_staff", "is_active"]
    list_select_related = ["organisation"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Platform", {"fields": ["organisation", "is_platform_admin", "is_designer"]}),
    ]
    add_fieldsets = [
        *BaseUserAdmin.add_fieldsets,
        ("Platform", {"fields": ["organisation", "is_platform_admin", "is_designer"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user_sync_company_group(user=form.instance)


@admin.register(ApiKey)
class ApiKeyAdmin(PlatformAdminOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        key, raw = api_key_create(user=obj.user, name=obj.name)
        obj.pk = key.pk
        obj.prefix = key.prefix
        messages.warning(request, f"The new API key is {raw}. Copy it now: it is not shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
