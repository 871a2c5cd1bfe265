"""Grants and method-level rights: the services and their errors."""

from __future__ import annotations

import pytest

from accesscontrol.models import (
    ConnectionGroupObjectPermission,
    ConnectionUserObjectPermission,
    MethodRight,
    MethodRightGroupObjectPermission,
    MethodRightUserObjectPermission,
)
from accesscontrol.selectors import connection_access_get, method_rights_list, tool_callable_by, tool_list_for
from accesscontrol.services import (
    connection_access_change,
    connection_access_define,
    method_rights_bulk,
    method_rights_sync,
    method_rights_sync_connector,
    method_rights_update,
)
from accounts.services import group_create
from audit.models import AuditEntry
from integrations_platform.errors import ApplicationError
from tests.accesscontrol.factories import make_connection, make_connector, make_operation
from tests.factories import make_organisation, make_user

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(ConnectionGroupObjectPermission.objects.values_list("group_id", "content_object_id")),
        sorted(ConnectionUserObjectPermission.objects.values_list("user_id", "content_object_id")),
        sorted(MethodRight.objects.values_list("id", "requires_confirmation")),
        sorted(MethodRightGroupObjectPermission.objects.values_list("group_id", "content_object_id")),
        sorted(MethodRightUserObjectPermission.objects.values_list("user_id", "content_object_id")),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def connector(org):
    return make_connector(org, operations=["GET", "HEAD", "POST", "PUT", "DELETE"])


@pytest.fixture
def connection(connector, designer):
    return make_connection(connector, designer)


def names(user, **kwargs):
    return {(t.connection_id, t.method) for t in tool_list_for(user=user, **kwargs)}


def test_company_level_by_default_gives_every_member_read_methods(org, connection, designer, member, outsider):
    connection_access_define(connection=connection, level="company", actor=designer)
    connection.refresh_from_db()
    assert connection.access_level == "company"
    access = connection_access_get(connection=connection)
    assert access["level"] == "company"
    assert access["organisations"] == [{"id": org.pk, "name": org.name}]
    assert access["users"] == []  # the creator is implicit, not a selection
    assert names(member) == {(connection.pk, "GET"), (connection.pk, "HEAD")}
    assert names(designer) == {(connection.pk, "GET"), (connection.pk, "HEAD")}
    assert names(outsider) == set()
    rights = {r.operation.method: r.requires_confirmation for r in MethodRight.objects.select_related("operation")}
    assert rights == {"GET": False, "HEAD": False, "POST": True, "PUT": True, "DELETE": True}
    entry = AuditEntry.objects.get(action="connection.access_defined")
    assert entry.actor == designer
    assert entry.changes["after"]["level"] == "company"


def test_no_level_means_company(org, connection, designer, member):
    connection_access_define(connection=connection, level=None, actor=designer)
    assert connection_access_get(connection=connection)["level"] == "company"
    assert names(member)


def test_groups_level(org, connection, designer, member):
    other = make_user(org)
    group = group_create(organisation=org, name="sales", members=[member])
    connection_access_define(connection=connection, level="groups", groups=[group.pk], actor=designer)
    assert names(member) == {(connection.pk, "GET"), (connection.pk, "HEAD")}
    assert names(other) == set()
    assert names(designer) == {(connection.pk, "GET"), (connection.pk, "HEAD")}  # the creator keeps access
    assert connection_access_get(connection=connection)["groups"] == [{"id": group.pk, "name": group.name}]


def test_individuals_level(org, connection, designer, member):
    other = make_user(org)
    connection_access_define(connection=connection, level="individuals", users=[member], actor=designer)
    assert names(member) and names(designer)
    assert names(other) == set()
    assert connection_access_get(connection=connection)["users"] == [{"id": member.pk, "username": member.username}]


def test_individuals_may_name_the_creator_explicitly(connection, designer):
    connection_access_define(connection=connection, level="individuals", users=[designer.pk], actor=designer)
    assert connection_access_get(connection=connection)["users"] == [{"id": designer.pk, "username": designer.username}]


def test_defined_once_only(connection, designer, member):
    connection_access_define(connection=connection, level="company", actor=designer)
    before = _snapshot()
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, level="individuals", users=[member], actor=designer)
    assert "create another connection to the same connector with other restrictions" in err.value.message
    assert err.value.code == "access_immutable"
    with pytest.raises(ApplicationError, match="other restrictions"):
        connection_access_change(connection=connection, actor=designer)
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"level": "company", "groups": [1]}, "groups"),
        ({"level": "groups", "users": [1]}, "users"),
        ({"level": "individuals", "organisations": [1]}, "organisations"),
        ({"level": "groups"}, "groups"),
        ({"level": "individuals", "users": []}, "users"),
        ({"level": "everyone"}, "level"),
        ({"level": "groups", "groups": "1"}, "groups"),
        ({"level": "groups", "groups": ["x; drop table"]}, "groups"),
        ({"level": "individuals", "users": [999999]}, "users"),
        ({"level": "company", "organisations": [999999]}, "organisations"),
    ],
)
def test_bad_access_groups_change_nothing(connection, designer, kwargs, field):
    before = _snapshot()
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, actor=designer, **kwargs)
    assert field in err.value.field_errors
    assert _snapshot() == before


def test_mix_explains_the_way_out(connection, designer, member, org):
    group = group_create(organisation=org, name="g")
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, level="groups", groups=[group], users=[member], actor=designer)
    assert "other restrictions" in err.value.field_errors["users"][0]


def test_principals_of_another_organisation_are_refused(connection, designer, other_org, outsider):
    foreign_group = group_create(organisation=other_org, name="theirs")
    before = _snapshot()
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, level="groups", groups=[foreign_group], actor=designer)
    assert "groups" in err.value.field_errors
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, level="individuals", users=[outsider], actor=designer)
    assert "users" in err.value.field_errors
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, level="company", organisations=[other_org], actor=designer)
    assert "own organisation" in err.value.field_errors["organisations"][0]
    assert _snapshot() == before


def test_company_group_is_not_a_group_selection(connection, designer, org):
    with pytest.raises(ApplicationError) as err:
        connection_access_define(connection=connection, level="groups", groups=[org.members_group], actor=designer)
    assert "company level" in err.value.field_errors["groups"][0]


@pytest.mark.parametrize("role", ["platform_admin", "operator"])
def test_nobody_grants_across_organisations(role, connection, platform_admin, org, other_org, outsider):
    """Nothing of one organisation is visible to another: not even the operator grants a connection
    to another organisation's company group."""
    actor = platform_admin if role == "platform_admin" else make_user(org, is_superuser=True)
    before = _snapshot()
    for organisations in ([org, other_org], [other_org]):
        with pytest.raises(ApplicationError) as err:
            connection_access_define(
                connection=connection, level="company", organisations=organisations, actor=actor
            )
        assert "own organisation" in err.value.field_errors["organisations"][0]
    assert _snapshot() == before
    assert names(outsider) == set()


def test_superuser_and_admin_get_nothing_without_a_grant(connection, designer, org):
    boss = make_user(org, is_superuser=True, is_platform_admin=True)
    connection_access_define(connection=connection, level="individuals", users=[designer], actor=designer)
    assert names(boss) == set()
    with pytest.raises(ApplicationError) as err:
        tool_callable_by(user=boss, connection=connection, operation=connection.connector.operations.first())
    assert err.value.code == "not_granted"


# --- method rights -------------------------------------------------------------------------------


@pytest.fixture
def granted(connection, designer, org, member):
    group = group_create(organisation=org, name="ops", members=[member])
    connection_access_define(connection=connection, level="groups", groups=[group], actor=designer)
    return connection, group


def _op(connection, method):
    return connection.connector.operations.get(method=method)


def test_update_grants_and_switches_off(granted, designer, member):
    connection, group = granted
    post, get = _op(connection, "POST"), _op(connection, "GET")
    changed = method_rights_update(
        connection=connection,
        actor=designer,
        changes=[
            {"operation": post.pk, "principals": [f"group:{group.pk}", "creator"]},
            {"operation": get.pk, "principals": ["creator"], "requires_confirmation": True},
        ],
    )
    assert changed == 2
    assert names(member) == {(connection.pk, "POST"), (connection.pk, "HEAD")}
    tool = tool_callable_by(user=member, connection=connection, operation=post)
    assert tool.requires_confirmation is True
    assert tool_callable_by(user=designer, connection=connection, operation=get).requires_confirmation is True
    with pytest.raises(ApplicationError) as err:
        tool_callable_by(user=member, connection=connection, operation=get)
    assert err.value.code == "method_not_allowed"
    entry = AuditEntry.objects.filter(action="connection.method_rights_changed").get()
    ops = {o["operation"]: o for o in entry.changes["operations"]}
    assert ops[post.pk]["before"]["principals"] == []
    assert ops[post.pk]["after"]["principals"] == sorted([f"group:{group.pk}", f"user:{designer.pk}"])
    # The same change again changes nothing and records nothing.
    assert method_rights_update(connection=connection, actor=designer, changes=[
        {"operation": post.pk, "principals": [f"group:{group.pk}", "creator"]}]) == 0
    assert AuditEntry.objects.filter(action="connection.method_rights_changed").count() == 1


def test_bulk_by_method_and_tag(connection, designer, member):
    tagged = make_operation(connection.connector, method="DELETE", tags=["Admin"])
    connection_access_define(connection=connection, level="company", actor=designer)
    key = f"group:{connection.organisation.members_group_id}"
    assert method_rights_bulk(connection=connection, actor=designer, method="delete", allow_principals=[key]) == 2
    assert {m for _, m in names(member)} == {"GET", "HEAD", "DELETE"}
    assert method_rights_bulk(connection=connection, actor=designer, tag="admin", allow_principals=[]) == 1
    plain_delete = connection.connector.operations.get(method="DELETE", tags=[])
    assert plain_delete.pk in {t.operation_id for t in tool_list_for(user=member)}
    assert tagged.pk not in {t.operation_id for t in tool_list_for(user=member)}
    assert method_rights_bulk(connection=connection, actor=designer, method="GET", requires_confirmation=True) == 1
    assert tool_callable_by(user=member, connection=connection, operation=_op(connection, "GET")).requires_confirmation


def test_only_admins_and_the_creating_designer_edit(granted, org, member, platform_admin):
    connection, _group = granted
    other_designer = make_user(org, is_designer=True)
    foreign_admin = make_user(make_organisation(), is_platform_admin=True)
    before = _snapshot()
    for actor in (member, other_designer, foreign_admin, None):
        with pytest.raises(ApplicationError) as err:
            method_rights_update(connection=connection, actor=actor, changes=[
                {"operation": _op(connection, "POST").pk, "principals": ["creator"]}])
        assert err.value.status_code == 403
        with pytest.raises(ApplicationError):
            method_rights_bulk(connection=connection, actor=actor, method="POST", allow_principals=["creator"])
    assert _snapshot() == before
    assert method_rights_update(connection=connection, actor=platform_admin, changes=[
        {"operation": _op(connection, "POST").pk, "principals": ["creator"]}]) == 1


def test_bad_changes_name_the_item_and_change_nothing(granted, designer, org, other_org, outsider):
    connection, _group = granted
    foreign_op = make_operation(make_connector(org))
    stranger = make_user(org)
    before = _snapshot()
    bad = [
        {"operation": _op(connection, "POST").pk, "principals": ["creator"]},  # valid, but the rest is not
        {"operation": foreign_op.pk, "principals": ["creator"]},
        {"operation": _op(connection, "PUT").pk, "principals": [f"user:{stranger.pk}", f"user:{outsider.pk}"]},
        {"operation": _op(connection, "DELETE").pk, "requires_confirmation": "yes"},
        {"operation": "1 or 1=1"},
        "not an object",
        {"operation": _op(connection, "POST").pk, "principals": ["creator"]},
        {"operation": _op(connection, "HEAD").pk, "principals": "creator"},
        {"operation": _op(connection, "GET").pk, "principals": [f"group:{other_org.members_group_id}"], "x": 1},
    ]
    with pytest.raises(ApplicationError) as err:
        method_rights_update(connection=connection, actor=designer, changes=bad)
    errors = err.value.field_errors
    assert "connector" in errors["changes.1.operation"][0]
    assert "Not granted" in errors["changes.2.principals"][0]
    assert "changes.3.requires_confirmation" in errors
    assert "changes.4.operation" in errors
    assert "changes.5" in errors
    assert "more than once" in errors["changes.6.operation"][0]
    assert "changes.7.principals" in errors
    assert "changes.8" in errors and "changes.8.principals" in errors
    assert "changes.0" not in errors and "changes.0.principals" not in errors
    assert _snapshot() == before
    for changes in ([], None, "x", [{}] * 20001):
        with pytest.raises(ApplicationError):
            method_rights_update(connection=connection, actor=designer, changes=changes)
    with pytest.raises(ApplicationError) as err:
        method_rights_bulk(connection=connection, actor=designer, method="FETCH", allow_principals=["nobody"])
    assert set(err.value.field_errors) == {"method", "allow_principals"}
    with pytest.raises(ApplicationError):
        method_rights_bulk(connection=connection, actor=designer, method="GET")
    assert _snapshot() == before


def test_sync_after_reimport_gives_new_methods_the_defaults(granted, designer, member):
    connection, _group = granted
    new_get = make_operation(connection.connector, method="GET")
    new_post = make_operation(connection.connector, method="POST")
    # Until synced, a new method has no rights row: not callable (missing means no).
    with pytest.raises(ApplicationError) as err:
        tool_callable_by(user=member, connection=connection, operation=new_get)
    assert err.value.code == "method_not_allowed"
    assert method_rights_sync_connector(connector=connection.connector) == 2
    assert method_rights_sync(connection=connection) == []  # idempotent
    assert tool_callable_by(user=member, connection=connection, operation=new_get).requires_confirmation is False
    with pytest.raises(ApplicationError):
        tool_callable_by(user=member, connection=connection, operation=new_post)
    assert MethodRight.objects.get(connection=connection, operation=new_post).requires_confirmation is True


def test_switches(granted, member):
    connection, _group = granted
    get = _op(connection, "GET")
    connector = connection.connector
    connector.enabled = False
    connector.save()
    assert names(member) == set()
    with pytest.raises(ApplicationError) as err:
        tool_callable_by(user=member, connection=connection, operation=get)
    assert err.value.code == "connector_disabled"
    connector.enabled = True
    connector.save()
    connector.integration_type.enabled = False
    connector.integration_type.save()
    assert names(member) == set()
    with pytest.raises(ApplicationError) as err:
        tool_callable_by(user=member, connection=connection, operation=get)
    assert err.value.code == "integration_type_disabled"


def test_rights_list_document(granted, designer, django_assert_max_num_queries):
    connection, group = granted
    with django_assert_max_num_queries(8):
        doc = method_rights_list(connection=connection)
    keys = [p["key"] for p in doc["principals"]]
    assert keys == [f"group:{group.pk}", f"user:{designer.pk}"]
    by_method = {row["method"]: row for row in doc["operations"]}
    assert by_method["GET"]["principals"] == keys
    assert by_method["POST"]["principals"] == []
    assert by_method["POST"]["requires_confirmation"] is True
    assert [r["method"] for r in method_rights_list(connection=connection, method="post")["operations"]] == ["POST"]


def test_a_stray_method_permission_never_opens_an_ungranted_connection(granted, org):
    """Written around the services (guardian directly): still no tool without the connection."""
    from guardian.shortcuts import assign_perm

    connection, _group = granted
    stranger = make_user(org)
    right = MethodRight.objects.get(connection=connection, operation=_op(connection, "POST"))
    assign_perm("accesscontrol.call_operation", stranger, right)
    assert MethodRightUserObjectPermission.objects.filter(user=stranger).count() == 1
    assert names(stranger) == set()
    with pytest.raises(ApplicationError) as err:
        tool_callable_by(user=stranger, connection=connection, operation=right.operation)
    assert err.value.code == "not_granted"
