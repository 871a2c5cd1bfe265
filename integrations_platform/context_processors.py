"""What every page's navigation needs to know about the person, asked of the access-control policy."""

from __future__ import annotations

from accesscontrol import policy


def roles(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "roles": {
            "designer": policy.is_designer(user),
            "admin": policy.may_enter_admin(user),
        }
    }
