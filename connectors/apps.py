from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Integration configuration"

    def ready(self):
        # Registers how the API document describes Bearer authentication (drf-spectacular
        # extensions register on import). Platform-wide; it may move to a platform app later.
        import integrations_platform.spectacular  # noqa: F401
