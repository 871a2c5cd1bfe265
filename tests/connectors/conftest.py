"""Schemas and connectors for the connector tests, good and hostile."""

from __future__ import annotations

import copy
import json

import pytest

from connectors.services import connector_create_from_openapi


def spec(paths: dict, *, security_schemes: dict | None = None, version: str = "3.0.3", **extra) -> dict:
    document = {
        "openapi": version,
        "info": {"title": "Pet store", "version": "1.0"},
        "servers": [{"url": "https://pets.example.com/v1"}],
        "paths": paths,
        **extra,
    }
    if security_schemes:
        document["components"] = {"securitySchemes": security_schemes}
    return document


def op(operation_id: str, *, tag: str = "pets", summary: str = "", parameters: list | None = None, **extra) -> dict:
    out = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary or operation_id,
        "responses": {"200": {"description": "OK"}},
    }
    if parameters:
        out["parameters"] = parameters
    out.update(extra)
    return out


PET_SECURITY = {
    "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "bearer": {"type": "http", "scheme": "bearer"},
}


def petstore() -> dict:
    return spec(
        {
            "/pets": {
                "get": op(
                    "listPets",
                    summary="List pets",
                    parameters=[{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                ),
                "post": op("createPet", summary="Create a pet"),
            },
            "/pets/{petId}": {
                "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": op("showPetById", summary="Show a pet"),
                "delete": op("deletePet", tag="admin", summary="Delete a pet"),
            },
        },
        security_schemes=copy.deepcopy(PET_SECURITY),
    )


def petstore_v2() -> dict:
    """deletePet removed, showPetById changed (summary), updatePet added, an oauth2 scheme added."""
    document = petstore()
    del document["paths"]["/pets/{petId}"]["delete"]
    document["paths"]["/pets/{petId}"]["get"]["summary"] = "Show one pet, in detail"
    document["paths"]["/pets/{petId}"]["put"] = op("updatePet", summary="Update a pet")
    document["components"]["securitySchemes"]["oauth"] = {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "https://pets.example.com/token", "scopes": {"read": "Read"}}},
    }
    return document


def big_spec(n: int, *, tags: int = 20) -> dict:
    paths = {}
    for i in range(n):
        paths[f"/things{i}/{{id}}"] = {
            "get": op(
                f"getThing{i}",
                tag=f"tag{i % tags}",
                parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            )
        }
    return spec(paths)


def as_text(document: dict) -> str:
    return json.dumps(document)


def _deep(depth: int) -> str:
    return (
        '{"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}, "x-deep": '
        + "[" * depth
        + "]" * depth
        + "}"
    )


ALIAS_BOMB = """openapi: 3.0.3
info: {title: bomb, version: "1"}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
paths:
  /x:
    get:
      responses: {"200": {description: ok}}
      x-bomb: *i
"""


def _ref_doc(ref: str) -> str:
    return as_text(
        spec(
            {
                "/pets": {
                    "get": {
                        "operationId": "listPets",
                        "parameters": [{"$ref": ref}],
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            }
        )
    )


# name -> schema text; every one must be refused with a clear error and save nothing.
_BIG = None


def fifty_megabytes() -> str:
    global _BIG
    if _BIG is None:
        _BIG = '{"openapi": "3.0.3", "info": {"title": "big", "version": "1"}, "x": "' + "a" * (50 * 1024 * 1024) + '"}'
    return _BIG


HOSTILE_SCHEMAS = {
    "invalid_json": '{"openapi": "3.0.3", "info": {',
    "invalid_yaml": "openapi: 3.0.3\ninfo: [unclosed\n  title: x\n",
    "unknown_version": as_text({**petstore(), "openapi": "4.7.0"}),
    "missing_version": as_text({k: v for k, v in petstore().items() if k != "openapi"}),
    "not_an_object": '["openapi", "3.0.3"]',
    "scalar": "just some words",
    "nothing_to_import": as_text(spec({})),
    "file_ref": _ref_doc("/etc/passwd"),
    "file_ref_url": _ref_doc("file:///etc/passwd#/x"),
    "remote_ref": _ref_doc("https://evil.example.com/params.json#/limit"),
    "alias_bomb": ALIAS_BOMB,
    "deep_nesting": _deep(5000),
}
HOSTILE_IDS = [*HOSTILE_SCHEMAS, "fifty_megabytes"]


def hostile(name: str) -> str:
    return fifty_megabytes() if name == "fifty_megabytes" else HOSTILE_SCHEMAS[name]


@pytest.fixture
def petstore_text() -> str:
    return as_text(petstore())


@pytest.fixture
def connector(org, platform_admin, petstore_text):
    created, _ = connector_create_from_openapi(
        organisation=org,
        name="Pet store",
        description="Pets.",
        base_url="https://pets.example.com/v1",
        schema_text=petstore_text,
        acknowledged=True,
        created_by=platform_admin,
    )
    return created


@pytest.fixture
def other_connector(other_org):
    from tests.factories import make_user

    admin = make_user(other_org, is_platform_admin=True)
    created, _ = connector_create_from_openapi(
        organisation=other_org,
        name="Other pet store",
        base_url="https://other.example.com",
        schema_text=as_text(petstore()),
        acknowledged=True,
        created_by=admin,
    )
    return created


@pytest.fixture
def other_platform_admin(other_org):
    from tests.factories import make_user

    return make_user(other_org, is_platform_admin=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The shared fixtures create users with a password; the real hasher costs ~0.2 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
