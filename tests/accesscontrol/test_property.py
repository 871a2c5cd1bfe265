"""Property: for every user, ``tools/``, the selector and the call check agree exactly with a plain
reference function computed from what the scenario granted, never from the database.

Random organisations, groups and people (some platform administrators, some superusers),
integration types switched on or off for the installation and for each organisation, connectors
switched on or off, connections with every level of access, method rights edited by the creator or
the organisation's platform administrator, and stray permissions written around the services.
"""

from __future__ import annotations

from guardian.shortcuts import assign_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from rest_framework.test import APIClient

from accesscontrol.models import MethodRight
from accesscontrol.selectors import tool_callable_by, tool_list_for, tool_resolve
from accesscontrol.services import connection_access_define, method_rights_update
from accesscontrol.tools import tool_name
from accounts.services import group_create, user_create
from connectors.services import organisation_integration_type_set
from integrations_platform.errors import ApplicationError
from tests.accesscontrol.factories import make_connection, make_connector, make_integration_type, make_operation
from tests.factories import make_organisation


def make_user(organisation, **flags):
    """A person without a password (hashing one would dominate the run)."""
    make_user.count += 1
    return user_create(username=f"p{make_user.count}", organisation=organisation, **flags)


make_user.count = 0

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
READ = {"GET", "HEAD"}


def reference_tools(*, user_keys, connections, switches) -> dict[str, bool]:
    """Plain Python: {tool name: requires_confirmation} of what a person with these principal keys
    may call. ``connections``: dicts with principals, operations (method, name, id) and rights."""
    result = {}
    for conn in connections:
        if not (switches["type"][conn["type"]] and switches["connector"][conn["connector"]]):
            continue
        if (conn["organisation"], conn["type"]) in switches["organisation_off"]:
            continue
        if not (user_keys & conn["principals"]):
            continue
        for op in conn["operations"]:
            allowed, confirm = conn["rights"].get(op["id"], (None, None))
            if allowed is None:
                allowed = conn["principals"] if op["method"] in READ else set()
            if confirm is None:
                confirm = op["method"] not in READ
            # Stray permissions (written around the services) never open a connection that is not
            # granted, but do count for a method of one that is.
            if user_keys & (allowed | conn["stray"].get(op["id"], set())):
                result[tool_name(conn["id"], op["name"])] = confirm
    return result


def subset(data, items, *, min_size=0, label=""):
    items = list(items)
    if not items:
        return []
    indexes = data.draw(
        st.lists(st.integers(0, len(items) - 1), min_size=min_size, max_size=len(items), unique=True), label=label
    )
    return [items[i] for i in sorted(indexes)]


class ToolsAgreeWithReference(TestCase):
    @settings(
        max_examples=35,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def test_tools_and_call_check_agree_with_reference(self, data):
        draw = data.draw
        # People and groups.
        organisations = [make_organisation() for _ in range(draw(st.integers(1, 3), label="organisations"))]
        # Each organisation's own platform administrator (edits method rights, switches types).
        admins = {o.pk: make_user(o, is_platform_admin=True) for o in organisations}
        people = {}  # user -> set of principal keys
        members = {}
        for organisation in organisations:
            members[organisation.pk] = []
            for _ in range(draw(st.integers(1, 4), label="people")):
                flags = draw(st.fixed_dictionaries({
                    "is_designer": st.booleans(), "is_platform_admin": st.booleans(), "is_superuser": st.booleans()
                }), label="flags")
                user = make_user(organisation, **flags)
                members[organisation.pk].append(user)
                people[user] = {f"user:{user.pk}", f"group:{organisation.members_group_id}"}
        for organisation in organisations:
            admin = admins[organisation.pk]
            people[admin] = {f"user:{admin.pk}", f"group:{organisation.members_group_id}"}
            members[organisation.pk].append(admin)
        groups = {}
        for organisation in organisations:
            groups[organisation.pk] = []
            for index in range(draw(st.integers(0, 3), label="groups")):
                chosen = subset(data, members[organisation.pk], label="group members")
                group = group_create(organisation=organisation, name=f"g{index}", members=chosen)
                groups[organisation.pk].append(group)
                for user in chosen:
                    people[user].add(f"group:{group.pk}")
        # Switches, connectors, operations.
        types = [make_integration_type(enabled=draw(st.booleans(), label="type on")) for _ in range(2)]
        switches = {"type": {t.pk: t.enabled for t in types}, "connector": {}, "organisation_off": set()}
        for organisation in organisations:
            for integration_type in types:
                if draw(st.booleans(), label="switched off by the organisation"):
                    organisation_integration_type_set(
                        organisation=organisation, integration_type=integration_type, enabled=False,
                        actor=admins[organisation.pk],
                    )
                    switches["organisation_off"].add((organisation.pk, integration_type.pk))
        connectors = []
        for _ in range(draw(st.integers(1, 3), label="connectors")):
            organisation = draw(st.sampled_from(organisations), label="connector organisation")
            connector = make_connector(
                organisation,
                integration_type=draw(st.sampled_from(types), label="type"),
                enabled=draw(st.booleans(), label="connector on"),
            )
            for method in draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=4), label="methods"):
                make_operation(connector, method=method)
            switches["connector"][connector.pk] = connector.enabled
            connectors.append(connector)
        # Connections with their access group and method rights.
        connections = []
        for _ in range(draw(st.integers(1, 4), label="connections")):
            connector = draw(st.sampled_from(connectors), label="connector")
            organisation = connector.organisation
            creator = draw(st.sampled_from(members[organisation.pk]), label="creator")
            connection = make_connection(connector, creator)
            level = draw(st.sampled_from(["company", "groups", "individuals"]), label="level")
            if level == "groups" and not groups[organisation.pk]:
                level = "company"
            actor = creator
            if level == "company":
                connection_access_define(connection=connection, level=level, actor=actor)
                principals = {f"group:{organisation.members_group_id}"}
            elif level == "groups":
                chosen = subset(data, groups[organisation.pk], min_size=1, label="groups granted")
                connection_access_define(connection=connection, level=level, groups=chosen, actor=actor)
                principals = {f"group:{g.pk}" for g in chosen}
            else:
                chosen = subset(data, members[organisation.pk], min_size=1, label="people granted")
                connection_access_define(connection=connection, level=level, users=chosen, actor=actor)
                principals = {f"user:{u.pk}" for u in chosen}
            principals.add(f"user:{creator.pk}")
            operations = [{"id": op.pk, "method": op.method, "name": op.name} for op in connector.operations.all()]
            rights = {}
            changes = []
            for op in subset(data, operations, label="methods changed"):
                keys = subset(data, [*sorted(principals), "creator"], label="allowed")
                confirm = draw(st.one_of(st.none(), st.booleans()), label="confirmation")
                change = {"operation": op["id"], "principals": keys}
                if confirm is not None:
                    change["requires_confirmation"] = confirm
                changes.append(change)
                rights[op["id"]] = ({f"user:{creator.pk}" if k == "creator" else k for k in keys}, confirm)
            if changes:
                admin = admins[organisation.pk]
                editor = admin if draw(st.booleans(), label="edited by the administrator") else creator
                if editor is creator and not creator.is_designer and not creator.is_platform_admin:
                    editor = admin
                method_rights_update(connection=connection, actor=editor, changes=changes)
            stray = {}
            for op in subset(data, operations, label="stray permissions"):
                outside = [u for u in sorted(people, key=lambda u: u.pk) if not people[u] & principals]
                pool = outside if outside and draw(st.booleans(), label="stray outside") else sorted(people, key=str)
                user = draw(st.sampled_from(pool), label="stray user")
                right = MethodRight.objects.get(connection=connection, operation=op["id"])
                assign_perm("accesscontrol.call_operation", user, right)
                stray[op["id"]] = {f"user:{user.pk}"}
            connections.append({
                "id": connection.pk, "connector": connector.pk, "type": connector.integration_type_id,
                "organisation": organisation.pk,
                "principals": principals, "operations": operations, "rights": rights, "object": connection,
                "stray": stray,
            })

        every_tool = [(conn, op) for conn in connections for op in conn["operations"]]
        for user, keys in people.items():
            expected = reference_tools(user_keys=keys, connections=connections, switches=switches)
            listed = {t.name: t.requires_confirmation for t in tool_list_for(user=user)}
            assert listed == expected, (user, listed, expected)
            client = APIClient()
            client.force_authenticate(user)
            answer = {t["name"]: t["requires_confirmation"] for t in client.get("/api/v1/tools/").json()}
            assert answer == expected
            openai = {t["function"]["name"] for t in client.get("/api/v1/tools/", {"format": "openai"}).json()}
            assert openai == set(expected)
            for conn, op in every_tool:
                name = tool_name(conn["id"], op["name"])
                try:
                    tool = tool_callable_by(user=user, connection=conn["object"], operation=op["id"])
                except ApplicationError as exc:
                    assert name not in expected, (name, exc.code)
                    assert exc.code in {
                        "not_granted", "integration_type_disabled", "connector_disabled", "method_not_allowed"
                    }
                    continue
                assert name in expected
                assert tool.name == name and tool.requires_confirmation == expected[name]
                assert tool_resolve(user=user, name=name).operation_id == op["id"]
