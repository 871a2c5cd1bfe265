"""The Django admin app with the platform's site (its own module: ``apps.py`` holds the platform
app's config, and Django picks a module's config by looking at every class in it)."""

from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    """Who enters the admin is the access-control policy's decision
    (``integrations_platform.admin.PlatformAdminSite``), not the staff flag."""

    default_site = "integrations_platform.admin.PlatformAdminSite"
