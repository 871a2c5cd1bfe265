from django.contrib import admin

from integrations_platform.admin import OrganisationScopedAdmin, OrganisationScopedInline
from invocations.models import Invocation, InvocationAttempt


class InvocationAttemptInline(OrganisationScopedInline, admin.TabularInline):
    model = InvocationAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "finished_at", "status_code", "error_kind", "duration_ms"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invocation)
class InvocationAdmin(OrganisationScopedAdmin, admin.ModelAdmin):
    """Read-only: invocations change only through their services."""

    list_display = ["id", "tool_name", "status", "user", "organisation", "via", "attempts", "created_at"]
    list_filter = ["status", "via", ("organisation", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user", "organisation"]
    search_fields = ["id", "tool_name", "user__username", "idempotency_key"]
    date_hierarchy = "created_at"
    inlines = [InvocationAttemptInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
