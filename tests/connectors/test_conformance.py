"""Conformance: every call built exactly as its specification says, on real published specifications.

For each specification (the ones ``bench/fetch_specs.py`` fetches: GitHub, Stripe, Codat, petstore
(Swagger 2.0), Train Travel, and Twilio (form bodies, path-level servers), Vercel (3.1, type lists),
Slack (form bodies)):

1. **Every operation**, built by the pure request builder from arguments generated from the
   operation's own input schema (hypothesis-jsonschema, seeded: runs repeat), is judged by an
   independent validator (openapi-core, over the original document; see ``judge.py``). A request the
   builder refuses counts as a failure too: the input schema accepted what cannot be sent.
2. **A seeded sample of at most 20 calls** goes end to end: the connector is created through the API,
   one user is given every method without confirmation, each call goes through ``POST
   invocations/`` and a real Celery worker to an upstream on 127.0.0.1 that judges what it receives
   (parameters, body and security) with the same validator.

At least 99% must be valid, per specification; every invalid call is printed with its operation and
the validator's reason. Methods no supported credential can call are not offered as tools (cause 5),
so they are not called; the few the generator cannot make arguments for are listed.

This runs once per CI run: ``.ci/run`` runs the suite twice (embedded defaults, then PostgreSQL and
Redis) and deselects the ``conformance`` marker in the first run (``PYTEST_ARGS='-m "not
conformance"'``); locally ``make test`` runs it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis_jsonschema import from_schema

from accesscontrol.selectors import connection_principals
from accesscontrol.services import method_rights_bulk
from connections.services import connection_create, credential_create, credential_tokens_store
from connectors.models import Connector
from connectors.openapi import parse_schema
from connectors.openapi.request import RequestBuildError, build_request, origin, server_entries, used_server
from tests.conftest import api_client_for
from tests.connectors.judge import Judge, JudgedRequest, load_document

pytestmark = [pytest.mark.conformance, pytest.mark.realspecs, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SEED = 20240601
EXAMPLES = 2  # generated argument sets per operation
E2E_CALLS = 20
THRESHOLD = 0.99


@dataclass(frozen=True)
class Spec:
    file: str
    judged: str = ""  # the document the validator reads, when not the same (Swagger 2.0 converted)

    @property
    def name(self) -> str:
        return self.file.rsplit(".", 1)[0]


SPECS = [
    Spec("github.json"),
    Spec("stripe.json"),
    Spec("codat-accounting.json"),
    Spec("petstore-2.0.json", judged="petstore-2.0.as-3.0.json"),
    Spec("train-travel-3.1.yaml"),
    Spec("twilio.json"),
    Spec("vercel.json"),
    Spec("slack.json"),
]

# Strings of the formats the validator checks that hypothesis-jsonschema does not know.
FORMATS = {
    "uuid": st.uuids().map(str),
    "byte": st.binary(max_size=24).map(lambda raw: base64.b64encode(raw).decode()),
    "binary": st.text(max_size=24),
    "password": st.text(max_size=24),
}


@pytest.fixture(scope="session")
def specs():
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location("fetch_specs", ROOT / "bench" / "fetch_specs.py")
    fetch_specs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch_specs)
    if fetch_specs.missing() and shutil.which("npm") is None:
        pytest.skip("real specifications are not in var/specs/ and npm is not available to fetch them")
    return fetch_specs.fetch()


def examples(schema: dict, count: int) -> list:
    """``count`` argument sets drawn from ``schema``, the same on every run."""
    drawn = []

    @seed(SEED)
    @settings(
        max_examples=count, database=None, phases=[Phase.generate], deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(from_schema(schema, custom_formats=FORMATS))
    def draw(value):
        drawn.append(value)

    draw()
    return drawn


@dataclass
class Outcome:
    """The figures of one specification, and every failure with its reason."""

    operations: int = 0
    unusable: int = 0
    not_generated: list[str] = field(default_factory=list)
    calls: int = 0
    valid: int = 0
    failures: list[str] = field(default_factory=list)
    e2e_calls: int = 0
    e2e_valid: int = 0
    e2e_failures: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.valid / self.calls if self.calls else 1.0

    @property
    def e2e_share(self) -> float:
        return self.e2e_valid / self.e2e_calls if self.e2e_calls else 1.0


OUTCOMES: dict[str, Outcome] = {}
ARGUMENTS: dict[str, dict[str, list]] = {}  # spec -> operation name -> generated argument sets


def _short(value, limit=300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _base_url(parsed) -> str:
    return next((s.rstrip("/") for s in parsed.servers if s.startswith(("http://", "https://"))), "https://api.example")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_operation_is_built_as_its_specification_says(specs, spec, capsys):
    parsed = parse_schema((specs / spec.file).read_bytes())
    judge = Judge(load_document(specs / (spec.judged or spec.file)))
    base = _base_url(parsed)
    outcome = OUTCOMES.setdefault(spec.name, Outcome())
    generated = ARGUMENTS.setdefault(spec.name, {})
    warnings.simplefilter("ignore")  # openapi-core warns about deprecated parameters and unknown schemes
    for op in parsed.operations:
        outcome.operations += 1
        if op.unusable_reason:
            outcome.unusable += 1
            continue
        try:
            drawn = examples(op.input_schema, EXAMPLES)
        except (HypothesisException, jsonschema.SchemaError) as error:
            outcome.not_generated.append(f"{op.name}: {type(error).__name__}: {str(error)[:160]}")
            continue
        generated[op.name] = drawn
        entries = server_entries(op.servers, parsed.servers)
        approved = [entry["origin"] for entry in entries if "origin" in entry]  # as an administrator would
        validator = jsonschema.Draft202012Validator(op.input_schema)
        for arguments in drawn:
            outcome.calls += 1
            where = f"{op.method} {op.path} ({op.name}) with {_short(arguments)}"
            if not validator.is_valid(arguments):
                outcome.failures.append(f"{where}: the platform's own validation refuses what its schema generated")
                continue
            try:
                request = build_request(
                    method=op.method, path=op.path, base_url=base, arguments=arguments, parameters=op.parameters,
                    request_body=op.request_body, servers=entries, approved_origins=approved,
                )
            except RequestBuildError as error:
                outcome.failures.append(f"{where}: refused by the request builder: {error}")
                continue
            problems = judge.problems(
                JudgedRequest.make(method=request.method, url=request.url, headers=request.all_headers(),
                                   body=request.body)
            )
            if problems:
                outcome.failures.append(f"{where} -> {request.url[:300]}: {'; '.join(problems)[:600]}")
            else:
                outcome.valid += 1
    with capsys.disabled():
        print(f"\n[conformance] {spec.name}: {outcome.valid}/{outcome.calls} built requests valid "
              f"({outcome.share:.1%}), {outcome.operations} operations, {outcome.unusable} unusable, "
              f"{len(outcome.not_generated)} without generated arguments")
        for line in outcome.failures:
            print(f"[conformance]   INVALID {line}")
        for line in outcome.not_generated:
            print(f"[conformance]   NOT GENERATED {line}")
    assert outcome.calls and outcome.share >= THRESHOLD, "\n".join(outcome.failures)


# --- end to end ---------------------------------------------------------------------------------


class JudgingUpstream:
    """An HTTP server on 127.0.0.1 that judges each request against the specification it stands
    for (``judge``, with the requests' host read as ``host_url``) and answers 200 or 400 as an API
    that validates its input would."""

    def __init__(self):
        self.judge: Judge | None = None
        self.host_url = ""
        self.verdicts: list[tuple[str, str, list[str]]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = JudgedRequest.make(
                    method=self.command, url=f"http://127.0.0.1{self.path}", headers=dict(self.headers.items()),
                    body=body, host_url=upstream.host_url,
                )
                try:
                    problems = upstream.judge.problems(request, security=True)
                except Exception as error:  # the judge itself failed: say so, never hang the call
                    problems = [f"the validator failed: {type(error).__name__}: {error}"]
                upstream.verdicts.append((self.command, self.path, problems))
                data = json.dumps({"problems": problems} if problems else {"ok": True}).encode()
                self.send_response(400 if problems else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.address}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def judging_upstream(settings):
    server = JudgingUpstream()
    settings.OUTGOING_ALLOWED_ADDRESSES = [server.address]
    settings.INVOCATION_RETRY_BASE_DELAY = 0.01
    settings.INVOCATION_RETRY_MAX_DELAY = 0.05
    yield server
    server.close()


def _credentials(connector: Connector, actor) -> list[dict]:
    """A credential for each auth scheme of the connector, tied to it by name (OAuth2 ones with a
    token, as after Connect)."""
    made = []
    for scheme in connector.auth_schemes.all():
        config = {"scheme_name": scheme.scheme_name}
        kind, cfg = scheme.kind, scheme.config or {}
        if kind == "api_key":
            config.update({"in": cfg.get("in", "header"), "name": cfg.get("name", "key")})
            secret = {"key": "conformance-key"}
        elif kind == "http_basic":
            config["username"] = "conformance"
            secret = {"password": "conformance-password"}
        elif kind == "http_bearer":
            secret = {"token": "conformance-token"}
        elif kind in ("oauth2_authorization_code", "oauth2_client_credentials"):
            config.update({"client_id": "conformance", "token_url": cfg.get("token_url") or "https://auth.example/token"})
            if kind == "oauth2_authorization_code":
                config["authorize_url"] = cfg.get("authorize_url") or "https://auth.example/authorize"
            secret = {"client_secret": "conformance-secret"}
        else:
            continue
        credential = credential_create(organisation=connector.organisation, name=f"{connector.name} {scheme.pk}",
                                       kind=kind, config=config, secret=secret, created_by=actor)
        if kind.startswith("oauth2_"):
            credential_tokens_store(
                credential=credential, tokens={"access_token": "conformance-access", "token_type": "Bearer"},
                expires_at=timezone.now() + dt.timedelta(hours=2), actor=actor,
            )
        made.append({"ref": credential.pk})
    return made


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_a_sample_of_calls_goes_end_to_end(specs, spec, celery_worker, judging_upstream, org, platform_admin,
                                           capsys):
    parsed = parse_schema((specs / spec.file).read_bytes())
    server = _base_url(parsed)
    judging_upstream.judge = Judge(load_document(specs / (spec.judged or spec.file)))
    judging_upstream.host_url = origin(server)
    base_url = judging_upstream.url + urlsplit(server).path.rstrip("/")
    admin = api_client_for(platform_admin)
    response = admin.post(
        "/api/v1/connectors/",
        {"name": spec.name, "base_url": base_url, "openapi_schema": (specs / spec.file).read_text(),
         "acknowledged": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    connector = Connector.objects.get(pk=response.json()["id"])
    connection = connection_create(connector=connector, organisation=org, name="conformance", created_by=platform_admin,
                                   action_credentials=_credentials(connector, platform_admin))
    # One user may call every method, without confirmation.
    method_rights_bulk(connection=connection, actor=platform_admin,
                       allow_principals=[p.key for p in connection_principals(connection=connection)],
                       requires_confirmation=False)
    listing = admin.get("/api/v1/tools/", {"connection": connection.pk}).json()
    tools = {t["operation"]["name"]: t["name"] for t in listing}
    operations = {op.name: op for op in connector.operations.all()}
    generated = ARGUMENTS.get(spec.name) or {}
    # Calls that stay on the base URL's origin (another origin would leave 127.0.0.1), with arguments.
    candidates = sorted(
        name for name in tools
        if name in operations and not (used_server(operations[name].servers) or {}).get("origin")
        and (generated.get(name) or name not in generated)
    )
    sample = random.Random(SEED).sample(candidates, min(E2E_CALLS, len(candidates)))
    outcome = OUTCOMES.setdefault(spec.name, Outcome())
    for name in sample:
        op = operations[name]
        arguments = (generated.get(name) or examples(op.input_schema, 1))[0]
        before = len(judging_upstream.verdicts)
        outcome.e2e_calls += 1
        where = f"{op.method} {op.path} ({name}) with {_short(arguments)}"
        answer = admin.post("/api/v1/invocations/", {"tool": tools[name], "arguments": arguments, "wait": 30},
                            format="json")
        body = answer.json()
        seen = judging_upstream.verdicts[before:]
        if answer.status_code != 201:
            outcome.e2e_failures.append(f"{where}: refused by the platform ({answer.status_code}): {_short(body)}")
        elif not seen:
            outcome.e2e_failures.append(
                f"{where}: never reached the upstream: {body['status']} {_short(body.get('error'))}"
            )
        elif seen[-1][2]:
            outcome.e2e_failures.append(f"{where} -> {seen[-1][1][:300]}: {'; '.join(seen[-1][2])[:600]}")
        else:
            outcome.e2e_valid += 1
    with capsys.disabled():
        print(f"\n[conformance] {spec.name}: {outcome.e2e_valid}/{outcome.e2e_calls} calls end to end valid "
              f"({outcome.e2e_share:.1%})")
        for line in outcome.e2e_failures:
            print(f"[conformance]   INVALID END TO END {line}")
    assert outcome.e2e_calls and outcome.e2e_share >= THRESHOLD, "\n".join(outcome.e2e_failures)


def test_the_figures_per_specification(capsys):
    """The table the README and the closing note quote (after the two tests above)."""
    if not OUTCOMES:
        pytest.skip("the conformance tests did not run")
    lines = ["", "[conformance] spec | operations | unusable | not generated | built valid | end to end valid"]
    total = Outcome()
    for name, outcome in OUTCOMES.items():
        lines.append(
            f"[conformance] {name} | {outcome.operations} | {outcome.unusable} | {len(outcome.not_generated)} | "
            f"{outcome.valid}/{outcome.calls} ({outcome.share:.1%}) | "
            f"{outcome.e2e_valid}/{outcome.e2e_calls} ({outcome.e2e_share:.1%})"
        )
        total.calls += outcome.calls
        total.valid += outcome.valid
        total.e2e_calls += outcome.e2e_calls
        total.e2e_valid += outcome.e2e_valid
    lines.append(f"[conformance] all | | | | {total.valid}/{total.calls} ({total.share:.1%}) | "
                 f"{total.e2e_valid}/{total.e2e_calls} ({total.e2e_share:.1%})")
    with capsys.disabled():
        print("\n".join(lines))
    assert total.share >= THRESHOLD and total.e2e_share >= THRESHOLD
