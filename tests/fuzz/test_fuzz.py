"""``mockserver fuzz``: the mock passes its own fuzzing, and the fuzzer bites.

Bounded runs (25 examples per operation and phase, seed 1) so CI stays fast;
``nox -s fuzz`` runs 500. Every target is in-process or on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockserver.cli import run
from mockserver.contracts import load_contracts
from mockserver.fuzz.document import WEBHOOK_SINK, create_operations, fuzz_document
from mockserver.fuzz.report import render_summary
from mockserver.fuzz.runner import FuzzOptions, _prepare, fuzz_app, is_loopback, mask, run_fuzz
from mockserver.openapi import build_openapi
from mockserver.providers import registry

EXAMPLES = 25
SEED = 1

Scope = dict[str, Any]
ASGI = Callable[..., Any]


def _cli(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(["fuzz", *argv], stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


# --- the mock passes its own fuzzing ----------------------------------------------



@pytest.mark.parametrize(
    "provider",
    list(registry.names()),
)
def test_mock_passes_bounded_fuzzing(provider: str) -> None:
    result = run_fuzz(FuzzOptions(provider, max_examples=EXAMPLES, seed=SEED))
    summary = render_summary(result)
    assert result.exit_code == 0, summary
    assert result.cases > 0 and result.stateful_scenarios > 0, summary
    assert "cases/s" in summary


def test_cli_summary_and_junit_report(tmp_path: Path) -> None:
    report = tmp_path / "fuzz.xml"
    code, out, err = _cli("--provider", "wavespeed", "--max-examples", "5", "--seed", "3",
                          "--report", str(report), "--phase", "fuzzing")
    assert code == 0, out + err
    assert "POST /api/v3/wavespeed-ai/wan-2.2/image-to-video" in out
    assert "PASSED" in out and "cases/s" in out
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    names = {case.get("name") for case in suite.iter("testcase")}
    assert "GET /api/v3/predictions/{id}/result" in names
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "3" and float(props["cases_per_second"] or 0) > 0


def test_same_seed_same_cases() -> None:
    def cases() -> dict[str, int]:
        result = run_fuzz(FuzzOptions("eachlabs", max_examples=5, seed=7, phases=("fuzzing",)))
        return {label: op.cases for label, op in result.operations.items()}

    assert cases() == cases()


# --- the fuzz document -------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "poll", "parameter", "pointer"),
    [
        ("eachlabs", "poll", "path.id", "$response.body#/predictionID"),
        ("wavespeed", "poll", "path.id", "$response.body#/data/id"),
        ("apikley", "poll", "query.taskId", "$response.body#/data/taskId"),
    ],
)
def test_links_from_create_to_poll(provider: str, poll: str, parameter: str, pointer: str) -> None:
    contracts = load_contracts()
    document = fuzz_document(build_openapi(provider, contracts), contracts.provider(provider))
    creates = [
        op for item in document["paths"].values() for op in item.values()
        if isinstance(op, dict) and op.get("tags") == ["create"]
    ]
    assert creates
    for create in creates:
        links = create["responses"]["200"]["links"]
        assert links[f"{poll}ById"]["parameters"] == {parameter: pointer}
    assert WEBHOOK_SINK in json.dumps(document)
    exported = build_openapi(provider, contracts)  # the export itself is untouched
    assert not any(
        "links" in op["responses"]["200"]
        for item in exported["paths"].values() for op in item.values()
        if isinstance(op, dict) and op.get("tags") == ["create"]
    )


def test_real_api_without_allow_spend_drops_creates_and_prices_them() -> None:
    options = FuzzOptions("eachlabs", max_examples=10, base_url="https://api.eachlabs.ai",
                          api_key="secret")
    document, _, app, result = _prepare(options, load_contracts())
    assert app is None
    assert create_operations(document) == []
    assert set(result.skipped) == {"POST /v1/prediction", "POST /v1/prediction/"}
    assert any("worst case for this run: $" in line for line in result.spend)
    allowed = _prepare(FuzzOptions("eachlabs", base_url="https://api.eachlabs.ai",
                                   api_key="secret", allow_spend=True), load_contracts())
    assert create_operations(allowed[0]) and not allowed[3].skipped


def test_key_env_is_required_off_loopback_and_read_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = _cli("--provider", "wavespeed", "--base-url", "https://api.wavespeed.ai")
    assert code == 2 and "--api-key-env" in err
    monkeypatch.delenv("GENMOCK_FUZZ_TEST_KEY", raising=False)
    code, _, err = _cli("--provider", "wavespeed", "--api-key-env", "GENMOCK_FUZZ_TEST_KEY")
    assert code == 2 and "GENMOCK_FUZZ_TEST_KEY" in err


def test_loopback_and_mask() -> None:
    assert is_loopback("http://127.0.0.1:9/x") and is_loopback("http://localhost/x")
    assert is_loopback("http://[::1]:80/")
    assert not is_loopback("https://api.wavespeed.ai") and not is_loopback("http://10.0.0.1/")
    assert mask("X-API-Key: sk_live_1 and sk_live_1", ["sk_live_1"]) == "X-API-Key: *** and ***"


# --- the fuzzer bites: broken variants ---------------------------------------------


class Broken:
    """ASGI wrapper that breaks responses of requests whose path matches."""

    def __init__(self, app: ASGI, match: str, kind: str) -> None:
        self.app, self.match, self.kind = app, match, kind

    async def __call__(self, scope: Scope, receive: ASGI, send: ASGI) -> None:
        if scope["type"] != "http" or self.match not in scope["path"] or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if self.kind == "500":
            body = b'{"code": 500, "message": "boom", "data": null}'
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        chunks: list[bytes] = []
        start: dict[str, Any] = {}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = b"".join(chunks)
                    headers = [(k, v) for k, v in start["headers"]
                               if k.lower() not in (b"content-length", b"content-type")]
                    content_type = b"application/json"
                    if self.kind == "content-type":
                        content_type = b"text/html"
                    elif self.kind == "drop-field" and start["status"] == 200:
                        data = json.loads(body)
                        data.get("data", {}).pop("status", None)  # WaveSpeed: required
                        body = json.dumps(data).encode()
                    headers += [(b"content-type", content_type),
                                (b"content-length", str(len(body)).encode())]
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("500", "not_a_server_error"),
        ("drop-field", "response_schema_conformance"),
        ("content-type", "content_type_conformance"),
    ],
)
def test_fuzzer_finds_broken_in_process_variant(kind: str, check: str) -> None:
    app = Broken(fuzz_app(), "/wavespeed/api/v3/predictions/", kind)
    result = run_fuzz(
        FuzzOptions("wavespeed", max_examples=10, seed=SEED, phases=("fuzzing", "stateful")),
        app=app,
    )
    summary = render_summary(result)
    assert result.exit_code == 1, summary
    found = [f for f in result.failures if f.check == check]
    assert found, summary
    assert "/api/v3/predictions/" in found[0].operation
    assert "curl -X GET" in found[0].curl and "fuzz-key" not in summary
    assert f"[{check}]" in summary


def test_served_mock_passes_and_key_is_masked(
    serve_app: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GENMOCK_FUZZ_TEST_KEY", "sk-served-secret-1")
    served = serve_app(fuzz_app("sk-served-secret-1"))
    code, out, err = _cli(
        "--provider", "wavespeed", "--base-url", f"{served.url}/wavespeed",
        "--api-key-env", "GENMOCK_FUZZ_TEST_KEY", "--max-examples", "10", "--seed", "1",
    )
    assert code == 0, out + err
    assert served.url in out and "sk-served-secret-1" not in out + err


def test_served_broken_variant_fails_with_reproduction(
    serve_app: Callable[[Any], Any],
) -> None:
    served = serve_app(Broken(fuzz_app(), "/wavespeed/api/v3/predictions/", "drop-field"))
    code, out, err = _cli(
        "--provider", "wavespeed", "--base-url", f"{served.url}/wavespeed",
        "--max-examples", "10", "--seed", "1", "--phase", "fuzzing", "--phase", "stateful",
    )
    assert code == 1, out + err
    assert "[response_schema_conformance]" in out
    reproduce = [line for line in out.splitlines() if line.strip().startswith("curl -X GET")]
    assert any(f"{served.url}/wavespeed/api/v3/predictions/" in line for line in reproduce), out
    assert "fuzz-key" not in out


def test_readme_command_against_a_default_served_mock_reports_no_failures(
    serve_app: Callable[[Any], Any],
) -> None:
    """The README's `mockserver fuzz --provider eachlabs --base-url http://127.0.0.1:8080/eachlabs`
    against `mockserver serve` with its default config (any key valid): no failures out of the
    box; ignored_auth is set aside with a printed reason, as the target accepts any key."""
    from mockserver.config import MockConfig
    from mockserver.http.app import create_app

    served = serve_app(create_app(MockConfig()))
    code, out, err = _cli(
        "--provider", "eachlabs", "--base-url", f"{served.url}/eachlabs",
        "--max-examples", "5", "--seed", "1",
    )
    assert code == 0, out + err
    assert "ignored_auth left out: the target accepted a made-up API key" in out


def test_in_process_summary_names_no_port_and_no_spend() -> None:
    code, out, err = _cli("--provider", "wavespeed", "--max-examples", "2", "--phase", "examples")
    assert code == 0, out + err
    first = out.splitlines()[0]
    assert first.startswith("mockserver fuzz wavespeed: in-process mock"), first
    assert "127.0.0.1" not in first and ":8080" not in first
    assert "spend:" not in out and "worst case" not in out
    assert "curl lines address `mockserver serve`" in out


def test_fuzz_without_the_extra_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "schemathesis" else real(name, *a),
    )
    code, out, err = _cli("--provider", "eachlabs")
    assert (code, out) == (2, "")
    assert err == (
        "mockserver fuzz needs the 'fuzz' extra (schemathesis is not installed): "
        "pip install 'genmock[fuzz]'\n"
    )


def test_progress_goes_to_stderr() -> None:
    code, out, err = _cli("--provider", "eachlabs", "--max-examples", "2", "--phase", "examples")
    assert code == 0, out + err
    assert "fuzz eachlabs: examples phase:" in err and "cases" in err
    assert "so far" not in out  # stdout keeps only the report
