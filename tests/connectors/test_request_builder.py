"""The request builder: every style/explode combination of the OpenAPI style table, bodies, and
values that try to break out of where they go."""

import json

import pytest

from connectors.openapi import styles
from connectors.openapi.request import RequestBuildError, build_request

EMPTY = ""
STRING = "blue"
ARRAY = ["blue", "black", "brown"]
OBJECT = {"R": 100, "G": 200, "B": 150}

# (style, explode, empty, string, array, object) from the OpenAPI 3.1 style examples table;
# None where the table says n/a.
PATH_TABLE = [
    ("matrix", False, ";color", ";color=blue", ";color=blue,black,brown", ";color=R,100,G,200,B,150"),
    ("matrix", True, ";color", ";color=blue", ";color=blue;color=black;color=brown", ";R=100;G=200;B=150"),
    ("label", False, ".", ".blue", ".blue,black,brown", ".R,100,G,200,B,150"),
    ("label", True, ".", ".blue", ".blue.black.brown", ".R=100.G=200.B=150"),
    ("simple", False, "", "blue", "blue,black,brown", "R,100,G,200,B,150"),
    ("simple", True, "", "blue", "blue,black,brown", "R=100,G=200,B=150"),
]
QUERY_TABLE = [
    ("form", False, "color=", "color=blue", "color=blue,black,brown", "color=R,100,G,200,B,150"),
    ("form", True, "color=", "color=blue", "color=blue&color=black&color=brown", "R=100&G=200&B=150"),
    ("spaceDelimited", False, None, None, "color=blue%20black%20brown", "color=R%20100%20G%20200%20B%20150"),
    ("pipeDelimited", False, None, None, "color=blue|black|brown", "color=R|100|G|200|B|150"),
    ("deepObject", True, None, None, None, "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"),
]


@pytest.mark.parametrize(("style", "explode", "empty", "string", "array", "obj"), PATH_TABLE)
def test_path_styles_follow_the_table(style, explode, empty, string, array, obj):
    for value, expected in ((EMPTY, empty), (STRING, string), (ARRAY, array), (OBJECT, obj)):
        assert styles.serialize_path("color", value, style=style, explode=explode) == expected
        request = build_request(
            method="get",
            path="/paint/{color}",
            base_url="https://api.example.com/v1",
            parameters=[{"name": "color", "in": "path", "style": style, "explode": explode, "required": True}],
            arguments={"color": value},
        )
        assert request.url == f"https://api.example.com/v1/paint/{expected}"


@pytest.mark.parametrize(("style", "explode", "empty", "string", "array", "obj"), QUERY_TABLE)
def test_query_styles_follow_the_table(style, explode, empty, string, array, obj):
    for value, expected in ((EMPTY, empty), (STRING, string), (ARRAY, array), (OBJECT, obj)):
        if expected is None:
            with pytest.raises(RequestBuildError) as info:
                build_request(
                    method="GET",
                    path="/paint",
                    base_url="https://api.example.com",
                    parameters=[{"name": "color", "in": "query", "style": style, "explode": explode}],
                    arguments={"color": value},
                )
            assert "arguments.color" in info.value.errors
            continue
        request = build_request(
            method="GET",
            path="/paint",
            base_url="https://api.example.com",
            parameters=[{"name": "color", "in": "query", "style": style, "explode": explode}],
            arguments={"color": value},
        )
        assert request.url == f"https://api.example.com/paint?{expected}"


def test_form_is_exploded_by_default_and_values_are_encoded_whole():
    request = build_request(
        method="GET",
        path="/s",
        base_url="https://api.example.com",
        parameters=[{"name": "q", "in": "query"}, {"name": "tags", "in": "query", "style": "form"}],
        arguments={"q": "a&b=c#d/e?", "tags": ["x y", "z"]},
    )
    assert request.url == "https://api.example.com/s?q=a%26b%3Dc%23d%2Fe%3F&tags=x%20y&tags=z"


def test_allow_reserved_keeps_reserved_characters_but_never_ampersand_or_hash():
    request = build_request(
        method="GET",
        path="/s",
        base_url="https://api.example.com",
        parameters=[{"name": "path", "in": "query", "allow_reserved": True}],
        arguments={"path": "/a/b:c?d&e#f"},
    )
    assert request.url == "https://api.example.com/s?path=/a/b:c?d%26e%23f"


@pytest.mark.parametrize(
    ("explode", "array", "obj"),
    [(False, "blue,black,brown", "R,100,G,200,B,150"), (True, "blue,black,brown", "R=100,G=200,B=150")],
)
def test_header_simple_style(explode, array, obj):
    for value, expected in ((STRING, "blue"), (ARRAY, array), (OBJECT, obj)):
        request = build_request(
            method="GET",
            path="/",
            base_url="https://api.example.com",
            parameters=[{"name": "X-Color", "in": "header", "style": "simple", "explode": explode}],
            arguments={"X-Color": value},
        )
        assert request.headers == {"X-Color": expected}


def test_cookie_form_style():
    request = build_request(
        method="GET",
        path="/",
        base_url="https://api.example.com",
        parameters=[
            {"name": "color", "in": "cookie", "explode": False},
            {"name": "session", "in": "cookie"},
            {"name": "rgb", "in": "cookie", "explode": True},
        ],
        arguments={"color": ARRAY, "session": "a b;c", "rgb": OBJECT},
    )
    assert request.cookies == {"color": "blue,black,brown", "session": "a%20b%3Bc", "R": "100", "G": "200", "B": "150"}
    assert request.all_headers()["Cookie"] == "color=blue,black,brown; session=a%20b%3Bc; R=100; G=200; B=150"


def test_property_names_map_arguments_to_parameters_and_primitives_are_spelled_as_json():
    request = build_request(
        method="GET",
        path="/items/{id}",
        base_url="https://api.example.com",
        parameters=[
            {"name": "id", "in": "path", "property": "id", "required": True},
            {"name": "id", "in": "query", "property": "query_id"},
            {"name": "flag", "in": "query"},
            {"name": "n", "in": "query"},
        ],
        arguments={"id": 7, "query_id": "x", "flag": True, "n": 2.0},
    )
    assert request.url == "https://api.example.com/items/7?id=x&flag=true&n=2"


@pytest.mark.parametrize(
    "value", ["../admin", "..", ".", "a/../../b", "a%2Fb", "a%2fb", "%2e%2e", "a\\..\\b", "x\r\ny", "a%00"]
)
def test_path_values_cannot_break_out(value):
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET",
            path="/files/{name}",
            base_url="https://api.example.com",
            parameters=[{"name": "name", "in": "path", "required": True}],
            arguments={"name": value},
        )
    assert "arguments.name" in info.value.errors


def test_a_slash_in_a_path_value_is_encoded_not_a_separator():
    request = build_request(
        method="GET",
        path="/files/{name}",
        base_url="https://api.example.com",
        parameters=[{"name": "name", "in": "path", "required": True}],
        arguments={"name": "a/b?c#d"},
    )
    assert request.url == "https://api.example.com/files/a%2Fb%3Fc%23d"


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00"])
def test_header_and_cookie_values_refuse_line_breaks(value):
    for location in ("header", "cookie"):
        with pytest.raises(RequestBuildError) as info:
            build_request(
                method="GET",
                path="/",
                base_url="https://api.example.com",
                parameters=[{"name": "X-Trace", "in": location}],
                arguments={"X-Trace": value},
            )
        assert "line breaks" in info.value.errors["arguments.X-Trace"][0]


def test_missing_required_arguments_are_named():
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="POST",
            path="/items/{id}",
            base_url="https://api.example.com",
            parameters=[{"name": "id", "in": "path", "required": True}, {"name": "q", "in": "query", "required": True}],
            request_body={"content_type": "application/json", "required": True},
            arguments={},
        )
    assert set(info.value.errors) == {"arguments.id", "arguments.q", "arguments.body"}


def test_json_body():
    request = build_request(
        method="POST",
        path="/items",
        base_url="https://api.example.com",
        request_body={"content_type": "application/json", "required": True, "property": "body"},
        arguments={"body": {"name": "ü", "n": [1, 2]}},
    )
    assert request.content_type == "application/json"
    assert json.loads(request.body) == {"name": "ü", "n": [1, 2]}


def test_form_body_with_encoding():
    request = build_request(
        method="POST",
        path="/items",
        base_url="https://api.example.com",
        request_body={
            "content_type": "application/x-www-form-urlencoded",
            "encoding": {"tags": {"style": "form", "explode": False}, "meta": {"contentType": "application/json"}},
        },
        arguments={"body": {"name": "a b&c", "tags": ["x", "y"], "meta": {"k": 1}}},
    )
    assert request.body == b"name=a%20b%26c&tags=x,y&meta=%7B%22k%22%3A1%7D"
    assert request.content_type == "application/x-www-form-urlencoded"


def test_multipart_body():
    request = build_request(
        method="POST",
        path="/upload",
        base_url="https://api.example.com",
        request_body={
            "content_type": "multipart/form-data",
            "encoding": {"file": {"contentType": "application/octet-stream"}},
        },
        arguments={"body": {"title": "Report", "file": "raw bytes", "meta": {"a": 1}}},
    )
    boundary = request.content_type.split("boundary=")[1]
    text = request.body.decode()
    assert text.startswith(f"--{boundary}\r\n")
    assert 'form-data; name="title"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nReport' in text
    assert 'name="file"; filename="file"\r\nContent-Type: application/octet-stream\r\n\r\nraw bytes' in text
    assert 'name="meta"\r\nContent-Type: application/json\r\n\r\n{"a": 1}' in text
    assert text.endswith(f"--{boundary}--\r\n")


def test_server_variables_and_operation_servers():
    request = build_request(
        method="GET",
        path="/me",
        base_url="https://{instance}.example.com/api/{version}",
        variables=[{"name": "instance", "value": "acme"}, {"name": "version", "value": "v2"}],
        arguments={},
    )
    assert request.url == "https://acme.example.com/api/v2/me"
    request = build_request(
        method="GET",
        path="/me",
        base_url="https://ignored.example.com",
        servers=[{"url": "https://{region}.other.example.com", "variables": {"region": {"default": "eu"}}}],
        arguments={},
    )
    assert request.url == "https://eu.other.example.com/me"


@pytest.mark.parametrize("value", ["evil.com#", "evil.com/x?", "user@evil.com", "a b"])
def test_server_variables_cannot_change_the_host(value):
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET",
            path="/",
            base_url="https://{instance}.example.com",
            variables={"instance": value},
            arguments={},
        )
    assert "server" in info.value.errors


def test_add_query_for_credentials():
    request = build_request(method="GET", path="/a", base_url="https://api.example.com", arguments={})
    request.add_query("api_key", "s e&cret")
    assert request.url == "https://api.example.com/a?api_key=s%20e%26cret"
