"""The request builder: every style/explode combination of the OpenAPI style table, bodies, and
values that try to break out of where they go."""

import json

import pytest

from connectors.openapi import styles
from connectors.openapi.request import RequestBuildError, build_request, origin, server_entries, url_template_places

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
    # deepObject arrays are undefined in OpenAPI; built as the APIs using them read them (expand[0]=a).
    ("deepObject", True, "color=", "color=blue", "color%5B0%5D=blue&color%5B1%5D=black&color%5B2%5D=brown",
     "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"),
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


def test_variables_fill_host_labels_and_the_path():
    request = build_request(
        method="GET",
        path="/me",
        base_url="https://{instance}.example.com/api/{version}",
        variables=[{"name": "instance", "value": "acme-1"}, {"name": "version", "value": "v2"}],
        arguments={},
    )
    assert request.url == "https://acme-1.example.com/api/v2/me"
    # In the path a value is percent-encoded where it lands: a "/" or "?" stays data.
    request = build_request(
        method="GET",
        path="/me",
        base_url="https://api.example.com/{prefix}",
        variables={"prefix": "v 2/beta?x#y"},
        arguments={},
    )
    assert request.url == "https://api.example.com/v%202%2Fbeta%3Fx%23y/me"


@pytest.mark.parametrize(
    "value",
    ["evil.com#", "evil.com/x?", "user@evil.com", "a b", "127.0.0.1:8080/", "a.b", "", "a_b", "x" * 64, "é"],
)
def test_a_variable_in_the_host_is_one_whole_dns_label(value):
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET",
            path="/",
            base_url="https://{instance}.example.com",
            variables={"instance": value},
            arguments={},
        )
    assert "one DNS label" in info.value.errors["base_url"][0]


@pytest.mark.parametrize("value", ["..", ".", "../admin", "a/../b", "a\\..\\b", "a\nb", "a\x00"])
def test_a_variable_in_the_path_cannot_climb_out(value):
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET", path="/", base_url="https://api.example.com/t/{t}", variables={"t": value}, arguments={}
        )
    assert "base_url" in info.value.errors


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{scheme}://api.example.com", "scheme"),
        ("https://api.example.com:{port}", "port"),
        ("https://{user}@api.example.com", "user name"),
        ("https://me:{password}@api.example.com", "user name"),
        ("https://api.example.com/items?tenant={t}", "query"),
        ("https://api.example.com/#{t}", "fragment"),
        ("https://api-{t}.example.com", "whole label"),
        ("https://{t}example.com", "whole label"),
        ("https://api.example.com{t}", "whole label"),
    ],
)
def test_no_variable_in_scheme_port_user_info_or_query(template, problem):
    _places, problems = url_template_places(template)
    assert any(problem in p for p in problems), problems
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET", path="/", base_url=template, arguments={},
            variables=dict.fromkeys(("scheme", "port", "user", "password", "t"), "x"),
        )
    assert any(problem in p for p in info.value.errors["base_url"])


def test_unknown_variables_are_errors_wherever_they_stand():
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET", path="/", base_url="https://{a}.example.com/{b}", arguments={},
            header_templates={"X-C": "v={c}"},
        )
    assert info.value.errors["base_url"] == ["the variable {a} has no value", "the variable {b} has no value"]
    assert info.value.errors["headers.X-C"] == ["a variable the header names has no value"]


def test_header_templates_share_the_rules_and_win_over_header_arguments():
    request = build_request(
        method="GET",
        path="/",
        base_url="https://api.example.com",
        parameters=[{"name": "x-tenant", "in": "header"}],
        arguments={"x-tenant": "from-arguments {t}"},
        variables={"t": "acme", "dsn": "postgres://u:p@db/x"},
        header_templates={"X-Tenant": "t-{t}", "X-DSN": "{dsn}", "X-Json": '{"a": 1}'},
    )
    # Arguments are data: a {name} in them is never filled.
    assert request.headers == {"X-Tenant": "t-acme", "X-DSN": "postgres://u:p@db/x", "X-Json": '{"a": 1}'}
    for bad in ("a\r\nX-Injected: 1", "a\nb", "nul\x00"):
        with pytest.raises(RequestBuildError) as info:
            build_request(
                method="GET", path="/", base_url="https://api.example.com", arguments={},
                variables={"t": bad}, header_templates={"X-Tenant": "{t}"},
            )
        assert "line breaks" in info.value.errors["headers.X-Tenant"][0]


def test_the_issues_attack_a_variable_cannot_move_the_call():
    """base URL http://{tenant}.example:8080, tenant = "127.0.0.1:<port>/": the call would go to
    127.0.0.1:<port> with the administrator's credential. Refused."""
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET", path="/items", base_url="http://{tenant}.example:8080", arguments={},
            variables={"tenant": "127.0.0.1:54321/"},
        )
    assert "one DNS label" in info.value.errors["base_url"][0]


TWILIO_SERVERS = ["https://api.twilio.com"]


@pytest.mark.parametrize(
    ("document_servers", "entry", "base_url", "expected"),
    [
        # twilio: the same absolute server on every path, and at the top.
        (TWILIO_SERVERS, "https://api.twilio.com", "https://sandbox.test:8443", "https://sandbox.test:8443"),
        (TWILIO_SERVERS, "https://api.twilio.com", "https://proxy.test/twilio", "https://proxy.test/twilio"),
        (TWILIO_SERVERS, "https://API.twilio.com:443/2010-04-01", "https://s.test", "https://s.test/2010-04-01"),
        # Below the document server's path: what is below it goes under the base URL.
        (["https://api.x.com/v1"], "https://api.x.com/v1/upload", "https://s.test/proxy/v1", "https://s.test/proxy/v1/upload"),
        # Elsewhere on the document's origin: the whole path, under the base URL's own prefix.
        (["https://api.x.com/v1"], "https://api.x.com/v2", "https://s.test/proxy/v1", "https://s.test/proxy/v2"),
        (["https://api.x.com/v1"], "https://api.x.com/v2", "https://s.test", "https://s.test/v2"),
        # Any of the document's own servers counts (production and sandbox both).
        (["https://api.x.com", "https://sandbox.x.com"], "https://sandbox.x.com/b", "https://mine.test", "https://mine.test/b"),
    ],
)
def test_servers_on_the_documents_origin_are_mapped_onto_the_base_url(document_servers, entry, base_url, expected):
    servers = server_entries([entry], document_servers)
    assert "document_path" in servers[0]
    request = build_request(method="GET", path="/items", base_url=base_url, servers=servers, arguments={})
    assert request.url == expected + "/items"


def test_a_server_on_another_origin_is_refused_until_approved():
    servers = server_entries(["https://upload.x.com/v1"], ["https://api.x.com"])
    assert servers == [{"url": "https://upload.x.com/v1", "origin": "https://upload.x.com"}]
    with pytest.raises(RequestBuildError) as info:
        build_request(method="POST", path="/files", base_url="https://api.x.com", servers=servers, arguments={})
    message = info.value.errors["server"][0]
    assert "https://upload.x.com" in message and "Approved server origins" in message and "approved_origins" in message
    request = build_request(
        method="POST", path="/files", base_url="https://api.x.com", servers=servers, arguments={},
        approved_origins=["HTTPS://Upload.X.com:443"],
    )
    assert request.url == "https://upload.x.com/v1/files"
    # An approved origin is exactly that origin: not another port, scheme or host.
    for other in ("http://upload.x.com", "https://upload.x.com:8443", "https://x.com"):
        with pytest.raises(RequestBuildError):
            build_request(
                method="POST", path="/f", base_url="https://api.x.com", arguments={},
                servers=server_entries([other], ["https://api.x.com"]), approved_origins=["https://upload.x.com"],
            )


def test_a_variable_in_an_approved_server_stays_on_an_approved_origin():
    servers = [{"url": "https://{region}.x.com", "origin": "https://{region}.x.com"}]
    approved = ["https://eu.x.com"]
    ok = build_request(
        method="GET", path="/a", base_url="https://api.x.com", servers=servers, arguments={},
        approved_origins=approved, variables={"region": "eu"},
    )
    assert ok.url == "https://eu.x.com/a"
    with pytest.raises(RequestBuildError) as info:
        build_request(
            method="GET", path="/a", base_url="https://api.x.com", servers=servers, arguments={},
            approved_origins=approved, variables={"region": "us"},
        )
    assert "https://us.x.com" in info.value.errors["server"][0]


def test_server_objects_with_their_own_variables_and_relative_servers():
    entry = {"url": "https://{region}.other.example.com", "variables": {"region": {"default": "eu"}}}
    with pytest.raises(RequestBuildError) as info:
        build_request(method="GET", path="/me", base_url="https://api.example.com", servers=[entry], arguments={})
    assert "https://eu.other.example.com" in info.value.errors["server"][0]
    request = build_request(
        method="GET", path="/me", base_url="https://api.example.com", servers=[entry], arguments={},
        approved_origins=["https://eu.other.example.com"],
    )
    assert request.url == "https://eu.other.example.com/me"
    request = build_request(
        method="GET", path="/me", base_url="https://api.example.com/v1", servers=["/v2"], arguments={}
    )
    assert request.url == "https://api.example.com/v1/v2/me"
    # A plain URL on the base URL's own origin (servers stored before they were classified).
    request = build_request(
        method="GET", path="/me", base_url="https://api.example.com/v1", servers=["https://API.example.com/v3"],
        arguments={},
    )
    assert request.url == "https://API.example.com/v3/me"


def test_origin_is_normalised():
    assert origin("HTTPS://Api.Example.com:443/x?y#z") == "https://api.example.com"
    assert origin("http://api.example.com:80") == "http://api.example.com"
    assert origin("http://u:p@api.example.com:8080/") == "http://api.example.com:8080"
    assert origin("http://[::1]:9/") == "http://[::1]:9"
    assert origin("/relative") == ""


def test_add_query_for_credentials():
    request = build_request(method="GET", path="/a", base_url="https://api.example.com", arguments={})
    request.add_query("api_key", "s e&cret")
    assert request.url == "https://api.example.com/a?api_key=s%20e%26cret"
