from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "integrations_platform"
    verbose_name = "Platform"

    def ready(self):
        from integrations_platform import schema  # noqa: F401  (registers the OpenAPI extension)
