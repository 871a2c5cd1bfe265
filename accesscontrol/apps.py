from django.apps import AppConfig


class AccesscontrolConfig(AppConfig):
    name = "accesscontrol"
    verbose_name = "Access control"
