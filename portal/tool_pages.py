"""The Tools pages' reads and the "try it" call, through the access control selector (the same one
that builds the API's ``tools/``) and the invocation service."""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations_platform.errors import ApplicationError

# More than this on one page is no help to a person: they are asked to search instead.
MAX_TOOLS_ON_PAGE = 500


@dataclass
class TagGroup:
    tag: str
    tools: list = field(default_factory=list)


@dataclass
class ConnectionGroup:
    connection_id: int
    connection_name: str
    connector_name: str
    tags: list[TagGroup] = field(default_factory=list)


def tool_groups(*, user, query=None, connection_id=None, tag=None) -> tuple[list[ConnectionGroup], int]:
    """The tools the user may call now, grouped by connection and tag; and how many there are."""
    from accesscontrol.selectors import tool_list_for

    tools = tool_list_for(user=user, connection_id=connection_id, tag=tag, query=query)
    count = len(tools)
    groups: dict[int, ConnectionGroup] = {}
    for tool in tools[:MAX_TOOLS_ON_PAGE]:
        group = groups.get(tool.connection_id)
        if group is None:
            group = groups[tool.connection_id] = ConnectionGroup(
                tool.connection_id, tool.connection_name, tool.connector_name
            )
        tag_name = (tool.tags[0] if tool.tags else "") or "Other"
        if not group.tags or group.tags[-1].tag != tag_name:
            existing = next((t for t in group.tags if t.tag == tag_name), None)
            if existing is None:
                existing = TagGroup(tag_name)
                group.tags.append(existing)
        else:
            existing = group.tags[-1]
        existing.tools.append(tool)
    ordered = sorted(groups.values(), key=lambda g: (g.connector_name.lower(), g.connection_name.lower()))
    for group in ordered:
        group.tags.sort(key=lambda t: (t.tag == "Other", t.tag.lower()))
    return ordered, count


# Why a tool the user was granted cannot be called now (a switch is off); other refusals are 404.
SWITCHED_OFF_CODES = {"integration_type_disabled", "connector_disabled"}


def tool_get(*, user, name: str):
    """The tool of this name if the user may call it now, else None."""
    return tool_get_or_reason(user=user, name=name)[0]


def tool_get_or_reason(*, user, name: str) -> tuple[object | None, str | None]:
    """``(tool, None)`` if the user may call the tool now; ``(None, reason)`` if the tool is theirs
    but its connection is switched off; ``(None, None)`` if there is no such tool for them."""
    from accesscontrol.selectors import tool_resolve

    try:
        return tool_resolve(user=user, name=name), None
    except ApplicationError as error:
        if error.code not in SWITCHED_OFF_CODES:
            return None, None
        # The access-control selector explains it in the policy's one wording.
        return None, error.message


def unavailable_connections(*, user) -> list[tuple[object, str]]:
    """The connections granted to the user that cannot be used now, each with the reason. One query."""
    from accesscontrol import policy
    from accesscontrol.selectors import connection_list_granted_to

    connections = policy.with_switches(
        connection_list_granted_to(user=user)
        .select_related("connector__integration_type")
        .order_by("connector__name", "name"),
        prefix="connector__",
    )
    rows = []
    for connection in connections:
        unusable = policy.connection_unusable_reason(connection)
        if unusable:
            rows.append((connection, unusable[1]))
    return rows


def invoke(*, user, tool, arguments: dict):
    """Call the tool for the user; answers the invocation (its row is saved before any work)."""
    from invocations.services import invocation_create

    return invocation_create(user=user, tool=tool.name, arguments=arguments)
