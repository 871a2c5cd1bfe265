"""Admin glue: integration configuration is for platform administrators only."""

from django.contrib import admin


def is_platform_admin(user) -> bool:
    return bool(user.is_active and user.is_staff and getattr(user, "is_platform_admin", False))


class PlatformAdminOnlyMixin:
    """Other staff do not see the model in the admin at all."""

    def has_module_permission(self, request):
        return is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_add_permission(self, request, *args):
        return is_platform_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user)


admin.site.site_header = "Integrations platform"
admin.site.site_title = "Integrations platform"
admin.site.index_title = "Administration"
