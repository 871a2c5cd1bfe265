import json

import pytest
from django.db import connection as db

from audit.models import AuditEntry
from connections import services
from connections.models import Connection, ConnectionCredential, Credential
from integrations_platform.errors import ApplicationError
from tests.connections.conftest import SECRETS, credential_specs, make_connector, make_operation

pytestmark = pytest.mark.django_db


def _all_secrets_absent(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text


def test_credential_create_every_kind_and_audit_has_no_value(org, platform_admin):
    for spec in credential_specs():
        credential = services.credential_create(organisation=org, created_by=platform_admin, **spec)
        assert credential.secret_changed_by == platform_admin
        assert credential.secret_changed_at is not None
    headers = Credential.objects.get(name="Extra headers")
    assert headers.config == {"header_names": ["X-Tenant-Token"]}
    entries = list(AuditEntry.objects.filter(action="credential.create"))
    assert len(entries) == len(credential_specs())
    _all_secrets_absent(json.dumps([e.changes for e in entries]))
    assert "secret" in entries[0].changes["fields"]


@pytest.mark.parametrize(
    ("kind", "config", "secret", "field"),
    [
        ("nope", {}, {}, "kind"),
        ("api_key", {"in": "body", "name": "X"}, {"key": "k"}, "config.in"),
        ("api_key", {"in": "header"}, {"key": "k"}, "config.name"),
        ("api_key", {"in": "header", "name": "Bad Header\r\n"}, {"key": "k"}, "config.name"),
        ("api_key", {"in": "header", "name": "X"}, {}, "secret.key"),
        ("api_key", {"in": "header", "name": "X"}, {"key": "k" * 9000}, "secret.key"),
        ("api_key", {"in": "header", "name": "X"}, {"key": "a\r\nInjected: 1"}, "secret.key"),
        ("api_key", {"in": "header", "name": "X", "extra": 1}, {"key": "k"}, "config"),
        ("http_basic", {}, {"password": "p"}, "config.username"),
        ("http_bearer", {}, {"token": 5}, "secret.token"),
        ("oauth2_client_credentials", {"client_id": "c", "token_url": "ftp://x"}, {"client_secret": "s"},
         "config.token_url"),
        ("oauth2_authorization_code", {"client_id": "c", "authorize_url": "javascript:alert(1)",
                                        "token_url": "https://t/x"}, {"client_secret": "s"}, "config.authorize_url"),
        ("connection_string", {"variable": "1bad"}, {"connection_string": "x"}, "config.variable"),
        ("custom_headers", {}, {"headers": {}}, "secret.headers"),
        ("custom_headers", {}, {"headers": {"Bad Name": "v"}}, "secret.headers"),
        ("webhook", {"url": "not a url"}, {"signing_secret": "s"}, "config.url"),
    ],
)
def test_credential_create_bad_input_names_field_and_saves_nothing(org, platform_admin, kind, config, secret, field):
    with pytest.raises(ApplicationError) as exc:
        services.credential_create(
            organisation=org, name="c", kind=kind, config=config, secret=secret, created_by=platform_admin
        )
    assert field in exc.value.field_errors
    assert "k" * 100 not in json.dumps(exc.value.as_dict())
    assert not Credential.objects.exists()


def test_credential_error_never_echoes_the_secret(org, platform_admin):
    with pytest.raises(ApplicationError) as exc:
        services.credential_create(
            organisation=org, name="c", kind="http_bearer", config={},
            secret={"token": SECRETS["token"], "other": SECRETS["password"]}, created_by=platform_admin,
        )
    _all_secrets_absent(json.dumps(exc.value.as_dict()))


def test_credential_duplicate_name_and_member_refused(org, platform_admin, member):
    spec = credential_specs()[2]
    services.credential_create(organisation=org, created_by=platform_admin, **spec)
    with pytest.raises(ApplicationError) as exc:
        services.credential_create(organisation=org, created_by=platform_admin, **spec)
    assert "name" in exc.value.field_errors
    with pytest.raises(ApplicationError) as exc:
        services.credential_create(organisation=org, created_by=member, **{**spec, "name": "other"})
    assert exc.value.status_code == 403


def test_credential_update_replaces_secret_and_records_who(org, platform_admin, designer):
    credential = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[1])
    services.credential_update(credential=credential, actor=designer, secret={"password": "new-one"})
    credential.refresh_from_db()
    assert services.credential_secret_read(credential) == {"password": "new-one"}
    assert credential.secret_changed_by == designer
    entry = AuditEntry.objects.filter(action="credential.update").get()
    assert entry.changes == {"fields": ["secret"]}
    # Config only: the secret stays.
    services.credential_update(credential=credential, actor=designer, config={"username": "bob"})
    credential.refresh_from_db()
    assert credential.config["username"] == "bob"
    assert services.credential_secret_read(credential) == {"password": "new-one"}


def test_credential_delete_refused_while_in_use(org, platform_admin, connector):
    credential = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[2])
    connection = services.connection_create(
        connector=connector, organisation=org, name="c1", created_by=platform_admin,
        action_credentials=[{"ref": credential.pk}],
    )
    with pytest.raises(ApplicationError) as exc:
        services.credential_delete(credential=credential, actor=platform_admin)
    assert exc.value.code == "credential_in_use"
    services.connection_delete(connection=connection, actor=platform_admin)
    services.credential_delete(credential=credential, actor=platform_admin)
    assert not Credential.objects.exists()


def test_connection_create_inline_and_refs_in_order(org, platform_admin, connector):
    existing = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[2])
    specs = credential_specs()
    connection = services.connection_create(
        connector=connector,
        organisation=org,
        name="Main",
        created_by=platform_admin,
        variables=[{"name": "tenant", "value": "globex"}],
        action_credentials=[{"create": specs[0]}, {"ref": existing.pk}, {"create": specs[1]}],
        trigger_credentials=[{"create": specs[4]}],
    )
    links = list(
        ConnectionCredential.objects.filter(connection=connection, purpose="action").values_list(
            "credential__name", flat=True
        )
    )
    assert links == ["API key", "Bearer", "Basic"]
    assert connection.variables == [{"name": "tenant", "value": "globex"}, {"name": "region", "value": "eu"}]
    entry = AuditEntry.objects.get(action="connection.create")
    _all_secrets_absent(json.dumps(entry.changes))


def test_connection_create_rolls_back_everything_on_error(org, platform_admin, connector):
    specs = credential_specs()
    with pytest.raises(ApplicationError) as exc:
        services.connection_create(
            connector=connector,
            organisation=org,
            name="Main",
            created_by=platform_admin,
            action_credentials=[{"create": specs[0]}, {"create": {**specs[1], "secret": {}}}],
        )
    assert "action_credentials[1].create.secret.password" in exc.value.field_errors
    assert not Credential.objects.exists()
    assert not Connection.objects.exists()


def test_connection_create_refuses_other_org_credential_and_duplicates(org, other_org, platform_admin, connector):
    from tests.factories import make_user

    foreign_admin = make_user(other_org, is_platform_admin=True)
    foreign = services.credential_create(organisation=other_org, created_by=foreign_admin, **credential_specs()[2])
    with pytest.raises(ApplicationError) as exc:
        services.connection_create(
            connector=connector, organisation=org, name="x", created_by=platform_admin,
            action_credentials=[{"ref": foreign.pk}],
        )
    assert "action_credentials[0].ref" in exc.value.field_errors
    services.connection_create(connector=connector, organisation=org, name="x", created_by=platform_admin)
    with pytest.raises(ApplicationError) as exc:
        services.connection_create(connector=connector, organisation=org, name="x", created_by=platform_admin)
    assert exc.value.field_errors["name"] == ["A connection with this name already exists for this connector."]
    assert Connection.objects.count() == 1


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ([{"name": "unknown", "value": "x"}], "variables[0].name"),
        ([{"name": "1bad", "value": "x"}], "variables[0].name"),
        ([{"name": "tenant", "value": "x" * 3000}], "variables[0].value"),
        ([{"name": "tenant", "value": {"a": 1}}], "variables[0].value"),
        ([{"name": "tenant", "value": "a"}, {"name": "tenant", "value": "b"}], "variables[1].name"),
        ("nope", "variables"),
    ],
)
def test_connection_variables_validated(org, platform_admin, connector, variables, field):
    with pytest.raises(ApplicationError) as exc:
        services.connection_create(
            connector=connector, organisation=org, name="v", created_by=platform_admin, variables=variables
        )
    assert field in exc.value.field_errors
    assert not Connection.objects.exists()


def test_connection_update_access_is_immutable_and_changes_audited(org, platform_admin, connector):
    connection = services.connection_create(connector=connector, organisation=org, name="a", created_by=platform_admin)
    with pytest.raises(ApplicationError) as exc:
        services.connection_update(connection=connection, actor=platform_admin, access_level="groups")
    assert "create another connection" in exc.value.message
    op = make_operation(connector, path="/health")
    services.connection_update(
        connection=connection, actor=platform_admin, name="b", test_operation=op.pk,
        variables=[{"name": "region", "value": "us"}],
    )
    connection.refresh_from_db()
    assert connection.name == "b" and connection.test_operation == op
    entry = AuditEntry.objects.filter(action="connection.update").get()
    assert set(entry.changes["fields"]) == {"name", "variables", "test_operation"}


def test_test_operation_must_be_harmless(org, platform_admin, connector):
    post = make_operation(connector, method="POST", path="/things")
    needs = make_operation(connector, path="/things/{id}", parameters=[{"name": "id", "in": "path", "required": True}])
    for op in (post, needs):
        with pytest.raises(ApplicationError) as exc:
            services.connection_create(
                connector=connector, organisation=org, name=f"t{op.pk}", created_by=platform_admin, test_operation=op.pk
            )
        assert "test_operation" in exc.value.field_errors


def test_variables_overwrite_from_connector(org, platform_admin, connector):
    connection = services.connection_create(
        connector=connector, organisation=org, name="a", created_by=platform_admin,
        variables=[{"name": "tenant", "value": "mine"}],
    )
    connector.variables = [{"name": "tenant", "value": "new"}]
    connector.save()
    assert services.connections_variables_overwrite(connector=connector) == 1
    connection.refresh_from_db()
    assert connection.variables == [{"name": "tenant", "value": "new"}]


def test_raw_column_holds_ciphertext(org, platform_admin):
    credential = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[1])
    with db.cursor() as cursor:
        cursor.execute("SELECT secret FROM connections_credential WHERE id = %s", [credential.pk])
        (raw,) = cursor.fetchone()
    assert SECRETS["password"] not in raw
    assert raw.startswith("gAAAAA")


def test_unreadable_secret_is_refused_not_used(org, platform_admin):
    credential = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[1])
    credential.secret = "gAAAAABnot-decryptable"
    with pytest.raises(services.SecretUnreadable):
        services.credential_secret_read(credential)


def test_designer_connection_defaults_to_company(org, designer):
    connector = make_connector(org)
    connection = services.connection_create(connector=connector, organisation=org, name="d", created_by=designer)
    assert connection.access_level == "company"
    assert designer.has_perm("connections.use_connection", connection)
