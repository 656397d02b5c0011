"""``mockserver drift live`` against the served mock, over loopback.

The clean mock must show no drift (exit 0). Drift is injected by a small ASGI
middleware that rewrites the mock's responses (a renamed field, a new status
word, a changed error envelope, a changed HTTP status, a changed error
transport); every change must be detected, exit 1, named by its rule.
Nothing here talks to a real provider host: every base URL is 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.cli import run
from mockserver.config import JobsConfig, MockConfig
from mockserver.drift.receiver import Receiver
from mockserver.providers import registry

KEY = "sk-PLANTED-123456"
KEY_ENV = "GENMOCK_DRIFT_TEST_KEY"

Rewrite = Callable[[str, str, int, Any], "tuple[int, Any] | None"]


class RewriteResponses:
    """ASGI middleware: rewrite JSON responses of the wrapped app.

    ``rewrite(method, path, status, body)`` returns ``(status, body)`` to
    replace the response, or None to keep it. Buffers the whole body (mock
    responses are small) and fixes Content-Length.
    """

    def __init__(self, app: ASGIApp, rewrite: Rewrite) -> None:
        self.app = app
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            status = int(start["status"])
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if data is not None:
                result = self.rewrite(scope["method"], scope["path"], status, data)
                if result is not None:
                    status, data = result
                    body = json.dumps(data).encode()
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _live(
    base: str, provider: str, *extra: str, key: bool = True
) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "drift",
        "live",
        "--provider",
        provider,
        "--base-url",
        f"{base}/{provider}",
        "--format",
        "json",
        "--poll-interval",
        "0",
        "--poll-timeout",
        "10",
        "--timeout",
        "10",
    ]
    if key:
        argv += ["--api-key-env", KEY_ENV]
    code = run([*argv, *extra], out, err)
    return code, json.loads(out.getvalue()), err.getvalue()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def polled_app(make_app: Callable[..., Starlette]) -> Starlette:
    """The mock with jobs moving one phase per poll, so a paid job finishes on a manual clock."""
    return make_app(config=MockConfig(jobs=JobsConfig(polls_per_phase=1)))


@pytest.fixture
def serve_rewritten(
    polled_app: Starlette, serve_app: Callable[[Any], Any]
) -> Callable[[Rewrite], str]:
    """Factory: serve the polled mock behind a rewrite; returns its base URL."""

    def factory(rewrite: Rewrite) -> str:
        return str(serve_app(RewriteResponses(polled_app, rewrite)).url)

    return factory


# --- no drift ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", list(registry.names()))
def test_free_probes_against_the_mock_show_no_drift(served: Any, provider: str) -> None:
    code, report, _ = _live(served.url, provider)
    assert report["findings"] == [] and report["errors"] == [], report
    assert code == 0
    subjects = set(report["subjects"])
    assert {
        "probe missing_auth",
        "probe invalid_auth",
        "probe unknown_job",
        "probe validation",
    } <= subjects
    assert ("probe balance" in subjects) == (provider != "eachlabs")
    assert report["skipped"] == {}


def test_without_a_key_only_keyless_probes_run(served: Any) -> None:
    code, report, _ = _live(served.url, "wavespeed", key=False)
    assert code == 0
    assert set(report["skipped"]) == {
        "probe unknown_job",
        "probe validation",
        "probe unknown_model",
        "probe balance",
    }
    assert "probe missing_auth" in report["subjects"]


@pytest.mark.parametrize("provider", list(registry.names()))
def test_paid_job_with_webhook_shows_no_drift(
    polled_app: Starlette, serve_app: Callable[[Any], Any], provider: str
) -> None:
    base = serve_app(polled_app).url
    port = _free_port()
    code, report, err = _live(
        base,
        provider,
        "--spend-limit",
        "1000",
        "--webhook-url",
        f"http://127.0.0.1:{port}/hook",
        "--webhook-timeout",
        "10",
    )
    assert report["findings"] == [] and report["errors"] == [], report
    assert code == 0
    assert {"job create", "job poll", "job webhook", "job"} <= set(report["subjects"])
    words = next(n for n in report["notes"] if n.startswith("job poll"))
    terminal = {"eachlabs": "success", "wavespeed": "completed", "apikley": "success"}[provider]
    assert words.endswith(terminal)
    assert "spending" in err


def test_spend_over_the_limit_is_refused_and_sends_nothing(served: Any) -> None:
    code, report, err = _live(served.url, "wavespeed", "--spend-limit", "0.10")
    assert code == 2
    assert any("refused" in e for e in report["errors"])
    assert "$0.15" in err and "refused" in err  # what it would have spent
    jobs = httpx.get(f"{served.url}/_mock/jobs").json()
    assert jobs["count"] == 0


# --- injected drift -----------------------------------------------------------------


def _rename_balance(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    if path.endswith("/api/v3/balance"):
        body["data"]["credit"] = body["data"].pop("balance")
        return status, body
    return None


def _new_word(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    if method == "GET" and "/v1/prediction/" in path and body.get("status") == "processing":
        body["status"] = "in_progress"
        return status, body
    return None


def _envelope(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    if status == 404:
        return status, {"error": body.get("message", "not found")}
    return None


def _http_status(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    return (410, body) if status == 404 else None


def _transport_to_body(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    return (200, body) if status == 401 else None


def _transport_to_status(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    if status == 200 and isinstance(body, dict) and body.get("code") == 401:
        return 401, body
    return None


INJECTIONS: list[tuple[str, str, Rewrite, str, tuple[str, ...]]] = [
    ("renamed field", "wavespeed", _rename_balance, "response-property-renamed", ()),
    ("new status word", "eachlabs", _new_word, "status-word-unknown", ("--spend-limit", "5")),
    ("error envelope", "eachlabs", _envelope, "error-envelope-changed", ()),
    ("HTTP status", "wavespeed", _http_status, "error-code-changed", ()),
    (
        "transport: status -> 200 body",
        "eachlabs",
        _transport_to_body,
        "error-transport-changed",
        (),
    ),
    ("transport: body -> status", "apikley", _transport_to_status, "error-transport-changed", ()),
]


@pytest.mark.parametrize(
    ("provider", "rewrite", "rule", "extra"),
    [i[1:] for i in INJECTIONS],
    ids=[i[0] for i in INJECTIONS],
)
def test_injected_drift_is_detected(
    serve_rewritten: Callable[[Rewrite], str],
    provider: str,
    rewrite: Rewrite,
    rule: str,
    extra: tuple[str, ...],
) -> None:
    base = serve_rewritten(rewrite)
    code, report, _ = _live(base, provider, *extra)
    assert code == 1, report
    rules = {f["rule"] for f in report["findings"]}
    assert rule in rules, report["findings"]
    assert all(f["source"] == "live" and f["provider"] == provider for f in report["findings"])


def test_renamed_field_names_both_sides(serve_rewritten: Callable[[Rewrite], str]) -> None:
    _, report, _ = _live(serve_rewritten(_rename_balance), "wavespeed")
    [finding] = report["findings"]
    assert finding["subject"] == "probe balance"
    assert finding["pointer"] == "/data/balance"
    assert (finding["before"], finding["after"]) == ("balance", "credit")


def test_transport_finding_says_how(serve_rewritten: Callable[[Rewrite], str]) -> None:
    _, report, _ = _live(serve_rewritten(_transport_to_body), "eachlabs")
    transport = [f for f in report["findings"] if f["rule"] == "error-transport-changed"]
    assert {f["subject"] for f in transport} == {"probe missing_auth", "probe invalid_auth"}
    assert transport[0]["before"] == "HTTP 401"
    assert transport[0]["after"] == "HTTP 200 with code 401 in the body"


# --- key hygiene -----------------------------------------------------------------------


def _leak_key(method: str, path: str, status: int, body: Any) -> tuple[int, Any] | None:
    """A hostile upstream that echoes the key into places that end up in findings."""
    if method == "GET" and "/v1/prediction/" in path and body.get("status") == "processing":
        body["status"] = KEY  # lands in status-word-unknown's "after"
        return status, body
    if status == 404:
        return status, {"error": f"unknown key {KEY}", "key": KEY}
    return None


def test_the_key_never_appears_in_any_output(
    serve_rewritten: Callable[[Rewrite], str], tmp_path: Path
) -> None:
    base = serve_rewritten(_leak_key)
    reports = {fmt: tmp_path / f"report.{fmt}" for fmt in ("table", "json", "junit", "markdown")}
    out, err = io.StringIO(), io.StringIO()
    with Receiver() as alerts:
        code = run(
            [
                "drift",
                "live",
                "--provider",
                "eachlabs",
                "--base-url",
                f"{base}/eachlabs",
                "--api-key-env",
                KEY_ENV,
                "--spend-limit",
                "5",
                "--poll-interval",
                "0",
                "--poll-timeout",
                "10",
                "--alert-webhook",
                alerts.url + "/slack",
                *[a for fmt, path in reports.items() for a in ("--report", f"{fmt}={path}")],
            ],
            out,
            err,
        )
        [alert] = alerts.wait(1, timeout=10)
    assert code == 1
    texts = {fmt: path.read_text(encoding="utf-8") for fmt, path in reports.items()}
    texts["stdout"] = out.getvalue()
    texts["stderr"] = err.getvalue()
    texts["alert"] = alert.body.decode()
    for name, text in texts.items():
        assert KEY not in text, f"the key leaked into {name}"
    # The leak was real: the finding exists, masked.
    findings = json.loads(texts["json"])["findings"]
    assert any(f["rule"] == "status-word-unknown" and f["after"] == "[REDACTED]" for f in findings)
