"""Grants and method-level rights, stored as django-guardian object permissions.

One source of truth: who may use a connection is the ``use_connection`` permission on it (to a
user, to groups, or to organisations' company groups); who may call a method through it is the
``call_operation`` permission on its ``MethodRight``. Direct foreign-key permission models keep
both fast and free of orphans.
"""

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class ConnectionUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey("connections.Connection", on_delete=models.CASCADE)
    # The creator's own access (seed 003: the creator always keeps access), as opposed to a person
    # chosen at the individuals level. Still a guardian permission like any other.
    implicit = models.BooleanField(default=False, editable=False)


class ConnectionGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey("connections.Connection", on_delete=models.CASCADE)


class MethodRight(models.Model):
    """One method of a connection's connector, as this connection exposes it."""

    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="method_rights")
    operation = models.ForeignKey("connectors.Operation", on_delete=models.CASCADE, related_name="method_rights")
    requires_confirmation = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "operation"], name="method_right_unique")
        ]
        permissions = [("call_operation", "Can call the method through the connection")]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.operation}"


class MethodRightUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(MethodRight, on_delete=models.CASCADE)


class MethodRightGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(MethodRight, on_delete=models.CASCADE)
