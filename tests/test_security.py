"""Issue 16 items 4-7, over real HTTP on loopback: the admin API's protection, the
webhook target rule (SSRF), redaction, per-key job isolation, upload headers and
output URLs on a known host.

Each test here failed on the code before the fix (checked with ``git stash``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import Served, WebhookReceiver
from http_api import PROVIDERS, Api, advance, error_code
from starlette.applications import Starlette

from mockserver.config import MockConfig

TOKEN = "t0ken-for-the-admin-api"


@pytest.fixture
def serve(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served]
) -> Callable[..., Served]:
    """Factory: a served app (manual clock) with a config built from ``[security]`` keys."""

    def factory(**security: Any) -> Served:
        if not security:
            return serve_app(make_app())
        from mockserver.config import SecurityConfig

        config = MockConfig(security=SecurityConfig(**security))
        return serve_app(make_app(config=config))

    return factory


@pytest.fixture
def http(serve: Callable[..., Served]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=serve().url, trust_env=False, timeout=10) as client:
        yield client


# --- item 4: the admin API ----------------------------------------------------------


def test_a_cross_origin_text_plain_post_cannot_reset_the_mock(http: httpx.Client) -> None:
    api = Api(http, "eachlabs", "sk-a")
    job = api.create_ok()
    # What <form enctype="text/plain" method=post action=.../_mock/reset> sends.
    reply = http.post("/_mock/reset", content=b"x=y", headers={
        "content-type": "text/plain", "origin": "https://evil.example.com",
        "sec-fetch-site": "cross-site"})
    assert reply.status_code == 403, reply.text
    assert "cross-site" in reply.json()["error"]
    # Each signal alone is enough.
    assert http.post("/_mock/reset", headers={"origin": "https://evil.example.com"}
                     ).status_code == 403
    assert http.post("/_mock/reset", headers={"origin": "null"}).status_code == 403
    assert http.post("/_mock/reset", headers={"sec-fetch-site": "cross-site"}
                     ).status_code == 403
    for form_type in ("text/plain", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x"):
        refused = http.post("/_mock/clock/advance", content=b'{"seconds": 5}',
                            headers={"content-type": form_type})
        assert refused.status_code == 415, (form_type, refused.text)
    assert http.get(f"/_mock/jobs/{job}").json()["state"] == "queued"  # the world is intact
    assert http.get("/_mock/clock").json()["now"] == http.get("/_mock/clock").json()["now"]
    # The mock's own origin, and a tool without Origin (curl), still work.
    own = str(http.base_url).rstrip("/")
    assert http.post("/_mock/reset", headers={"origin": own, "sec-fetch-site": "same-origin"}
                     ).status_code == 200
    assert http.post("/_mock/clock/advance", json={"seconds": 1}).status_code == 200


def test_a_foreign_host_is_refused_on_the_admin_api_but_not_on_provider_routes(
    http: httpx.Client,
) -> None:
    # DNS rebinding: evil.example.com resolves to 127.0.0.1 after the page loaded.
    reply = http.get("/_mock/accounts", headers={"host": "evil.example.com"})
    assert reply.status_code == 403
    assert "DNS rebinding" in reply.json()["error"]
    assert http.post("/_mock/reset", headers={"host": "evil.example.com:8080"}
                     ).status_code == 403
    for host in ("localhost:1234", "127.0.0.1", "[::1]:80", "api.eachlabs.ai", "x.localhost"):
        assert http.get("/_mock/health", headers={"host": host}).status_code == 200, host
    # Provider routes answer every client, whatever Host it uses.
    api = Api(http, "eachlabs", "sk-a")
    created = http.post("/eachlabs/v1/prediction/", headers={**api.headers(),
                        "host": "evil.example.com", "origin": "https://evil.example.com"},
                        json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                              "input": {"image_url": "https://example.com/a.png",
                                        "prompt": "a dancer"}})
    assert created.status_code == 200, created.text


def test_listed_hosts_are_accepted(serve: Callable[..., Served]) -> None:
    served = serve(allowed_hosts=("mock.internal",))
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        assert http.get("/_mock/health", headers={"host": "mock.internal:9"}).status_code == 200
        assert http.post("/_mock/reset", headers={"origin": "http://mock.internal:3000"}
                         ).status_code == 200
        assert http.get("/_mock/health", headers={"host": "other.internal"}).status_code == 403


def test_the_admin_token_is_required_when_set(serve: Callable[..., Served]) -> None:
    served = serve(admin_token=TOKEN)
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        missing = http.get("/_mock/jobs")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert http.get("/_mock/jobs", headers={"authorization": "Bearer wrong"}
                        ).status_code == 401
        assert http.get("/_mock/jobs", headers={"authorization": f"Bearer {TOKEN}"}
                        ).status_code == 200
        assert http.post("/_mock/reset", headers={"x-mock-admin-token": TOKEN}
                         ).status_code == 200
        # Capability URLs stay open: clients download outputs from anywhere.
        api = Api(http, "wavespeed", "sk-a")
        ticket = http.post("/wavespeed/api/v3/media/uploads", headers=api.headers(),
                           json={"filename": "a.png", "size": 3, "content_type": "image/png"})
        assert ticket.status_code == 200, ticket.text
        data = ticket.json()["data"]
        assert httpx.put(data["upload"]["url"], content=b"png", trust_env=False,
                         headers={"content-type": "image/png"}).status_code == 200
        assert httpx.get(data["download_url"], trust_env=False).content == b"png"
        job = api.create_ok()
        auth = {"authorization": f"Bearer {TOKEN}"}
        advance_reply = http.post("/_mock/clock/advance", json={"seconds": 600, "wait": True},
                                  headers=auth)
        assert advance_reply.status_code == 200
        output = api.poll(job).json()["data"]["outputs"][0]
        assert httpx.get(output, trust_env=False).status_code == 200


def test_serve_off_loopback_generates_a_token_and_warns() -> None:
    from mockserver.http.guard import is_loopback_bind
    from mockserver.http.serve import _exposure

    assert is_loopback_bind("127.0.0.1") and is_loopback_bind("::1")
    assert is_loopback_bind("localhost") and is_loopback_bind("127.0.0.2")
    assert not is_loopback_bind("0.0.0.0") and not is_loopback_bind("::")
    assert not is_loopback_bind("192.168.1.10") and not is_loopback_bind("myhost")
    base = MockConfig()
    assert _exposure(base) == (base, [])
    wide = MockConfig.from_mapping({"server": {"host": "0.0.0.0"}})
    config, lines = _exposure(wide)
    token = config.security.admin_token
    assert token is not None and len(token) >= 24
    assert "every interface" in lines[0] and "WARNING" in lines[0]
    assert any(token in line for line in lines)
    # Off loopback with a token, the token protects and any Host is fine (as Jupyter).
    from mockserver.http.guard import GuardSettings

    assert not GuardSettings.of([], token, bind="0.0.0.0").check_host
    assert GuardSettings.of([], token, bind="127.0.0.1").check_host
    assert GuardSettings.of([], None, bind="0.0.0.0").check_host
    chosen = MockConfig.from_mapping({"server": {"host": "0.0.0.0"},
                                      "security": {"admin_token": TOKEN}})
    config, lines = _exposure(chosen)
    assert config.security.admin_token == TOKEN
    assert not any(TOKEN in line for line in lines)


# --- item 5: SSRF -----------------------------------------------------------------


BAD_TARGETS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://0.0.0.0:8080/hook",
    "http://[::]/hook",
    "http://2130706433/hook",  # 127.0.0.1, decimal
    "http://0x7f000001/hook",  # hex
    "http://0177.0.0.1/hook",  # octal
    "http://127.1/hook",
    "http://10.0.0.5/hook",  # private: only with webhook_any_host
    "http://192.168.1.1/hook",
    "https://internal.corp.example/hook",  # a name that is not listed
    "http://[::ffff:169.254.169.254]/",
]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_webhook_urls_outside_the_rule_are_refused_at_create(
    http: httpx.Client, provider: str
) -> None:
    api = Api(http, provider, "sk-a")
    port = http.base_url.port
    field = {"eachlabs": "webhook_url", "wavespeed": "webhook", "apikley": "callBackUrl"}
    for url in [*BAD_TARGETS, f"http://127.0.0.1:{port}/_mock/reset",
                f"http://localhost:{port}/%5Fmock/reset", f"http://127.0.0.1:{port}//_mock/x"]:
        reply = api.create(webhook=url)
        assert error_code(provider, reply) in (400, 422), (url, reply.text)
        assert "webhook" in reply.text or "callBackUrl" in reply.text, reply.text
        assert "webhook_target" in reply.text or field[provider] in reply.text, reply.text
    assert http.get("/_mock/jobs").json()["count"] == 0
    # Loopback receivers are fine, as they always were.
    api.create_ok(webhook=f"http://127.0.0.1:{port}/hook")
    api.create_ok(webhook="http://localhost:9/hook")


def test_a_webhook_to_the_mocks_own_reset_no_longer_wipes_every_job(http: httpx.Client) -> None:
    api = Api(http, "eachlabs", "sk-a")
    keep = api.create_ok()
    reply = api.create(webhook=str(http.base_url).rstrip("/") + "/_mock/reset")
    assert reply.status_code == 400, reply.text
    advance(http, 600)
    assert api.status(keep) == "success"
    assert http.get("/_mock/jobs").json()["count"] == 1


def test_the_switch_widens_the_rule_but_never_to_metadata(serve: Callable[..., Served]) -> None:
    served = serve(webhook_any_host=True)
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        api = Api(http, "eachlabs", "sk-a")
        api.create_ok(webhook="http://10.0.0.5/hook")
        api.create_ok(webhook="https://internal.corp.example/hook")
        for url in ("http://169.254.169.254/", "http://0.0.0.0/", "http://2130706433/",
                    f"http://127.0.0.1:{http.base_url.port}/_mock/reset"):
            assert api.create(webhook=url).status_code == 400, url
    listed = serve(webhook_hosts=("receiver.internal",))
    with httpx.Client(base_url=listed.url, trust_env=False) as http:
        api = Api(http, "eachlabs", "sk-a")
        api.create_ok(webhook="https://receiver.internal/hook")
        assert api.create(webhook="https://other.internal/hook").status_code == 400


def test_the_rule_is_checked_again_at_delivery_against_the_resolved_address(
    serve: Callable[..., Served],
) -> None:
    # A listed name that resolves to a forbidden address fails at delivery, clearly.
    served = serve(webhook_hosts=("metadata.localhost",))
    policy = served.state.webhook_policy
    assert policy.address_allowed("metadata.localhost", "169.254.169.254") is not None
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        api = Api(http, "eachlabs", "sk-a")
        # "localhost" resolves to loopback: allowed at create and at delivery; make
        # the sender see a forbidden address by narrowing the rule after the create.
        api.create_ok(webhook=f"http://localhost:{http.base_url.port}/hook", prefer=None)
        served.state.sender.target_policy = _no_loopback()
        advance(http, 600)
        deliveries = http.get("/_mock/webhooks").json()["deliveries"]
    attempt = deliveries[0]["attempts"][0]
    assert attempt["outcome"] == "error"
    assert "not sent" in attempt["error"] and "resolves to" in attempt["error"]


def _no_loopback() -> Any:
    """A rule under which every address is forbidden (to see the delivery check act)."""
    from mockserver.domain.webhook_targets import WebhookTargetPolicy

    class NoLoopback(WebhookTargetPolicy):
        def address_allowed(self, host: str, address: str) -> str | None:
            return f"{address} refused by the test's rule"

    return NoLoopback()


def test_target_policy_decodes_every_spelling() -> None:
    from mockserver.domain.webhook_targets import WebhookTargetPolicy

    policy = WebhookTargetPolicy()
    for url in BAD_TARGETS:
        assert policy.url_problem(url) is not None, url
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]:8/x",
                "http://a.localhost/x", "https://hooks.genmock.invalid/x"):
        assert policy.url_problem(url) is None, url


# --- item 6: redaction ------------------------------------------------------------


def test_secrets_leave_the_process_masked(
    http: httpx.Client, caplog: pytest.LogCaptureFixture, webhook_receiver: WebhookReceiver
) -> None:
    hook = webhook_receiver.url.replace("http://", "http://user:hunter2-secret@") + (
        "?token=tok-SECRET-123456&plain=1")
    with caplog.at_level(logging.INFO, logger="mockserver"):
        api = Api(http, "eachlabs", "sk-live-abcdef123456")
        api.create_ok(webhook=hook, inputs={"client_secret": "cs-SECRET-987654"},
                      query={"api_key": "qk-SECRET-555555", "token": "qt-SECRET-444444"})
        advance(http, 600)
        webhook_receiver.wait_for(1)
        served_text = "".join(http.get(path).text for path in (
            "/_mock/requests", "/_mock/jobs", "/_mock/webhooks"))
    leaks = ("hunter2-secret", "tok-SECRET-123456", "cs-SECRET-987654", "qk-SECRET-555555",
             "qt-SECRET-444444", "sk-live-abcdef123456")
    for secret in leaks:
        assert secret not in served_text, secret
        assert secret not in caplog.text, secret
    assert "***@127.0.0.1" in served_text and "plain=1" in served_text
    # The receiver got the real URL, credentials and all.
    assert webhook_receiver.requests[0].path.endswith("token=tok-SECRET-123456&plain=1")


def test_one_rule_names_the_secrets() -> None:
    from mockserver.drift.redact import Redactor
    from mockserver.http.journal import journal_body
    from mockserver.redact import is_secret_name, mask_value, redact_url

    for name in ("x-api-key", "X-API-Key", "key", "apiKey", "api_key", "authorization",
                 "client_secret", "password", "secret", "token", "access_token",
                 "webhook_secret", "X-Webhook-Signature", "cookie", "accesstoken"):
        assert is_secret_name(name), name
    for name in ("prompt", "keyframes", "max_tokens", "image_url", "callBackUrl",
                 "webhook-id", "content-type", "monkey"):
        assert not is_secret_name(name), name
    assert redact_url("https://u:p@h/x?sig=1&a=2") == "https://***@h/x?sig=***&a=2"
    assert mask_value({"a": {"key": "abcdefghijklmnop"}})["a"]["key"] == "***mnop"
    assert journal_body(b"prompt=a&api_key=abcdefghijklmnop") == "prompt=a&api_key=***mnop"
    # Recordings use the same rule, with nothing of the secret kept.
    assert Redactor().url("https://u:p@h/x?key=1") == "https://[REDACTED]@h/x?key=[REDACTED]"
    assert Redactor().json({"client_secret": "x", "keyframes": "y"}) == {
        "client_secret": "[REDACTED]", "keyframes": "y"}


# --- item 7: isolation, uploads, output URLs ---------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_key_b_can_neither_poll_nor_cancel_key_as_job(http: httpx.Client, provider: str) -> None:
    owner, other = Api(http, provider, "sk-owner"), Api(http, provider, "sk-other")
    job = owner.create_ok()
    stolen = other.poll(job)
    unknown = other.poll("no-such-job-0000")
    assert error_code(provider, stolen) == error_code(provider, unknown) is not None
    # The same answer as for an unknown id: nothing tells the job exists.
    assert stolen.text.replace(job, "ID") == unknown.text.replace("no-such-job-0000", "ID")
    if provider == "eachlabs":
        cancel = http.post(f"/eachlabs/v1/prediction/{job}/cancel", headers=other.headers())
        assert cancel.status_code == 404, cancel.text
    assert http.get(f"/_mock/jobs/{job}").json()["state"] == "queued"  # not cancelled


ACTIVE = [("page.html", "text/html"), ("x.svg", "image/svg+xml"), ("a.xml", "text/xml"),
          ("a.js", "text/javascript")]


@pytest.mark.parametrize(("filename", "content_type"), ACTIVE)
def test_uploads_are_served_inert(http: httpx.Client, filename: str, content_type: str) -> None:
    api = Api(http, "wavespeed", "sk-a")
    body = b"<script>fetch('/_mock/reset',{method:'POST'})</script>"
    reply = http.post("/wavespeed/api/v3/media/upload/binary", headers=api.headers(),
                      files={"file": (filename, body, content_type)})
    assert reply.status_code == 200, reply.text
    served = httpx.get(reply.json()["data"]["download_url"], trust_env=False)
    assert served.content == body
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert "default-src 'none'" in served.headers["content-security-policy"]
    assert served.headers["content-disposition"].startswith("attachment")


def test_a_foreign_host_never_becomes_an_output_url(
    http: httpx.Client, serve: Callable[..., Served]
) -> None:
    api = Api(http, "eachlabs", "sk-a")
    created = http.post("/eachlabs/v1/prediction/", headers={**api.headers(),
                        "host": "evil.example.com"},
                        json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                              "input": {"image_url": "https://example.com/a.png",
                                        "prompt": "a dancer"}})
    job = api.job_id(created)
    advance(http, 600)
    body = api.poll(job).json()
    assert "evil.example.com" not in str(body)
    assert body["output"].startswith(f"http://127.0.0.1:{http.base_url.port}/")
    assert httpx.get(body["output"], trust_env=False).status_code == 200
    # With a public URL configured, every URL the mock hands out is on it.
    public = serve(public_url="https://mock.example.net")
    with httpx.Client(base_url=public.url, trust_env=False) as other:
        api = Api(other, "eachlabs", "sk-a")
        job = api.create_ok()
        advance(other, 600)
        assert api.poll(job).json()["output"].startswith("https://mock.example.net/_mock/media/")


def test_serve_takes_the_token_from_the_environment_and_prints_the_bound_address() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from conftest import free_port, wait_for_health

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--clock", "manual",
         "--log-level", "warning"],
        cwd=Path(__file__).parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "MOCKSERVER_ADMIN_TOKEN": TOKEN},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(f"{base}/_mock/health", process, answered=True)
        first = httpx.get(f"{base}/_mock/health", trust_env=False)
        assert first.status_code == 401
        authorized = httpx.get(f"{base}/_mock/health", trust_env=False,
                               headers={"authorization": f"Bearer {TOKEN}"})
        assert authorized.status_code == 200
        # Provider routes need no admin token.
        assert httpx.get(f"{base}/eachlabs/v1/prediction/x", trust_env=False).status_code == 401
        process.terminate()
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert f"listening on 127.0.0.1:{port}" in out, out
    assert TOKEN not in out + err
