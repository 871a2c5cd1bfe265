"""Writes for grants and method-level rights (guardian object permissions)."""

from __future__ import annotations

from guardian.shortcuts import assign_perm


def connection_access_define(*, connection, level: str, groups=(), users=(), organisations=(), actor=None) -> None:
    """Define a new connection's access group, once, at creation. (To be completed: levels,
    selections, validation, method-right defaults, audit.)"""
    assign_perm("connections.use_connection", connection.organisation.members_group, connection)
