"""Hostile input over real HTTP: no request breaks the mock, none harms a later one.

Issue 16, item 1 and its *Done means*: each defect found by probing the
served mock gets its own test here (every one answered 500 or poisoned the
mock before the fix), and a seeded batch of more than 1,000 crafted requests
goes to every provider endpoint and every admin endpoint. The rule checked
throughout: no 5xx that was not asked for (Apikley's ``"code"`` in a 200
body included), no traceback in the log, and after every batch a normal
create, poll and admin read still work.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import Served
from http_api import INPUTS, MODELS, PROVIDERS, Api, error_code
from starlette.applications import Starlette

from mockserver.config import MockConfig

KEY = "sk-hostile-0123456789abcdef"
HUGE_INT = "9" * 5000
#: Admin reads that must keep answering 200 whatever was stored before.
ADMIN_READS = ("/_mock/health", "/_mock/clock", "/_mock/jobs", "/_mock/requests",
               "/_mock/uploads", "/_mock/accounts", "/_mock/webhooks", "/_mock/scenarios",
               f"/_mock/accounts/{KEY}")
#: Where each provider's create takes its prompt and its file URL.
FILE_FIELD = {"eachlabs": "image_url", "wavespeed": "image", "apikley": "image_url"}


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """Every record the server logs at DEBUG and above while the test runs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("mockserver", "uvicorn.error", "uvicorn")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield records
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def _no_tracebacks(records: list[logging.LogRecord]) -> None:
    bad = [r for r in records if r.exc_info or "Traceback" in r.getMessage()
           or r.levelno >= logging.ERROR]
    assert not bad, "\n".join(f"{r.name} {r.levelname}: {r.getMessage()[:500]}" for r in bad)


@pytest.fixture
def hostile(make_app: Callable[..., Starlette],
            serve_app: Callable[[Starlette], Served]) -> Iterator[tuple[Served, httpx.Client]]:
    served = serve_app(make_app(config=MockConfig()))
    with httpx.Client(base_url=served.url, timeout=15, trust_env=False) as http:
        yield served, http


def _body_code(provider: str, reply: httpx.Response) -> int:
    """The status a client sees: HTTP, or Apikley's body ``code`` on an HTTP 200."""
    if provider == "apikley" and reply.status_code == 200:
        try:
            return int(reply.json()["code"])
        except (ValueError, KeyError, TypeError):
            return reply.status_code
    return reply.status_code


_HEALTH_CHECKS = itertools.count()


def _still_healthy(http: httpx.Client) -> None:
    """A normal create, poll and every admin read work (nothing earlier harmed them)."""
    key = f"sk-healthy-{next(_HEALTH_CHECKS):06d}-0123456789"  # fresh: no rate limit hit
    for provider in PROVIDERS:
        api = Api(http, provider, key)
        job_id = api.create_ok()
        assert api.poll(job_id).status_code == 200
    for path in ADMIN_READS:
        reply = http.get(path)
        assert reply.status_code == 200, (path, reply.text[:300])


def _raw_create(http: httpx.Client, provider: str, body: bytes) -> httpx.Response:
    api = Api(http, provider, KEY)
    path = {"eachlabs": "/eachlabs/v1/prediction/",
            "wavespeed": f"/wavespeed/api/v3/{MODELS['wavespeed']}",
            "apikley": "/apikley/api/v1/jobs/createTask"}[provider]
    return http.post(path, content=body,
                     headers=api.headers({"Content-Type": "application/json"}))


def _create_text(provider: str, prompt_json: str, image_json: str | None = None) -> bytes:
    """A create body of ``provider`` with raw JSON text for the prompt (and file URL)."""
    model = MODELS[provider]
    inputs = dict(INPUTS[model])
    field = FILE_FIELD[provider]
    parts = [f'"{name}": {json.dumps(value)}' for name, value in inputs.items()
             if name not in ("prompt", field)]
    parts.append(f'"prompt": {prompt_json}')
    parts.append(f'"{field}": {image_json or json.dumps(inputs[field])}')
    inner = "{" + ", ".join(parts) + "}"
    if provider == "wavespeed":
        return inner.encode()
    return f'{{"model": {json.dumps(model)}, "input": {inner}}}'.encode()


# --- the defects of item 1, one test each ----------------------------------------------


@pytest.mark.parametrize(
    "seconds", ["2.6e11", "-1", "NaN", "Infinity", "-Infinity", "1e400", HUGE_INT[:400],
                "3155760001", '"5"', "true", "null", "[]", "{}"],
)
def test_clock_advance_out_of_range_is_a_400_and_moves_nothing(
    hostile: tuple[Served, httpx.Client], seconds: str, log_records: list[logging.LogRecord]
) -> None:
    _, http = hostile
    before = http.get("/_mock/clock").json()["now"]
    reply = http.post("/_mock/clock/advance", content=f'{{"seconds": {seconds}}}',
                      headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]
    assert '"seconds"' in message and "from 0 to 3155760000" in message, message
    assert http.get("/_mock/clock").json()["now"] == before
    _still_healthy(http)
    assert http.post("/_mock/reset").status_code == 200
    _still_healthy(http)
    _no_tracebacks(log_records)


def test_advances_that_would_pass_the_last_mock_time_are_refused(
    hostile: tuple[Served, httpx.Client],
) -> None:
    _, http = hostile
    for _ in range(70):  # 70 x 100 years from 2026 would pass year 9000
        reply = http.post("/_mock/clock/advance", json={"seconds": 3_155_760_000})
        if reply.status_code == 400:
            assert "past 9000-01-01" in reply.json()["error"]
            break
        assert reply.status_code == 200, reply.text
    else:
        pytest.fail("the clock went past year 9000")
    assert http.get("/_mock/clock").json()["iso"].startswith("8")
    _still_healthy(http)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"balance": "1e999999"}, "balance"),
        ({"balance": 1e300}, "balance"),
        ({"balance": -1}, "balance"),
        ({"balances": {"eachlabs": "1e5000"}}, "balance"),
        ({"limits": {"window_seconds": 1e300}}, "window_seconds"),
        ({"limits": {"concurrent": 1e300}}, "concurrent"),
        ({"limits": {"creates_per_window": 1e20}}, "creates_per_window"),
        ({"limits": {"tier": ["gold"]}}, "tier"),
        ({"limits": []}, "limits"),
        ({"valid": "yes"}, "valid"),
    ],
)
def test_admin_account_numbers_out_of_range_are_400s_and_store_nothing(
    hostile: tuple[Served, httpx.Client], body: dict[str, Any], field: str
) -> None:
    _, http = hostile
    before = http.get(f"/_mock/accounts/{KEY}").json()
    reply = http.put(f"/_mock/accounts/{KEY}", json=body)
    assert reply.status_code == 400, reply.text
    assert field in reply.json()["error"]
    assert http.get(f"/_mock/accounts/{KEY}").json() == before
    _still_healthy(http)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_admin_account_non_finite_numbers_are_400s(
    hostile: tuple[Served, httpx.Client], value: str
) -> None:
    _, http = hostile
    for body in (f'{{"balance": {value}}}', f'{{"limits": {{"window_seconds": {value}}}}}',
                 f'{{"limits": {{"concurrent": {value}}}}}'):
        reply = http.put(f"/_mock/accounts/{KEY}", content=body,
                         headers={"Content-Type": "application/json"})
        assert reply.status_code == 400, (body, reply.text)
    _still_healthy(http)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lone_surrogate_in_a_create_is_a_400_and_every_read_still_works(
    hostile: tuple[Served, httpx.Client], provider: str
) -> None:
    _, http = hostile
    reply = _raw_create(http, provider, _create_text(provider, '"a cat \\ud800"'))
    assert _body_code(provider, reply) == 400, reply.text
    assert "lone surrogate" in reply.text and "prompt" in reply.text
    # As a key of the input object, too.
    keyed = _raw_create(http, provider, _create_text(provider, '{"\\udc00": 1}'))
    assert _body_code(provider, keyed) == 400, keyed.text
    _still_healthy(http)


def test_a_lone_surrogate_in_admin_bodies_is_a_400(hostile: tuple[Served, httpx.Client]) -> None:
    _, http = hostile
    headers = {"Content-Type": "application/json"}
    for method, path, body in [
        ("PUT", f"/_mock/accounts/{KEY}", '{"webhook_secret": "whsec_\\ud800"}'),
        ("POST", "/_mock/scenarios", '{"scenario": "fail", "match": {"key": "\\ud800"}}'),
        ("POST", "/_mock/clock/advance", '{"seconds": 1, "\\ud800": 1}'),
    ]:
        reply = http.request(method, path, content=body, headers=headers)
        assert reply.status_code == 400, (path, reply.text)
        assert "lone surrogate" in reply.json()["error"]
    _still_healthy(http)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_5000_digit_integer_is_a_400_in_the_providers_envelope(
    hostile: tuple[Served, httpx.Client], provider: str
) -> None:
    _, http = hostile
    body = _create_text(provider, '"a cat"').replace(b'"prompt"', b'"seed": ' +
                                                       HUGE_INT.encode() + b', "prompt"')
    reply = _raw_create(http, provider, body)
    assert _body_code(provider, reply) == 400, reply.text[:300]
    assert error_code(provider, reply) == 400
    assert "4300 digits" in reply.text
    if provider == "apikley":
        assert reply.status_code == 200  # Apikley's errors keep their own transport
    _still_healthy(http)


def test_a_5000_digit_integer_in_admin_bodies_is_a_400(
    hostile: tuple[Served, httpx.Client],
) -> None:
    _, http = hostile
    headers = {"Content-Type": "application/json"}
    for method, path in [("PUT", f"/_mock/accounts/{KEY}"), ("POST", "/_mock/clock/advance"),
                         ("POST", "/_mock/scenarios")]:
        reply = http.request(method, path, content=f'{{"balance": {HUGE_INT}}}',
                             headers=headers)
        assert reply.status_code == 400, (path, reply.text[:300])
    _still_healthy(http)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("url", ["https://[zz]/a", "https://[::1/a", "https://a]/b",
                                 "https://[zz]:80/a"])
def test_a_file_url_urlsplit_refuses_is_the_providers_4xx_naming_the_field(
    hostile: tuple[Served, httpx.Client], provider: str, url: str
) -> None:
    _, http = hostile
    reply = _raw_create(http, provider, _create_text(provider, '"x"', json.dumps(url)))
    assert _body_code(provider, reply) in (400, 422), reply.text
    assert FILE_FIELD[provider] in reply.text
    _still_healthy(http)


def _leave_mid_body(url: str, request_line: str, extra: str = "") -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"{request_line}\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 100000\r\n{extra}\r\n".encode() + b'{"seconds": 1'
        )
        time.sleep(0.05)
    time.sleep(0.05)


def test_a_client_leaving_mid_body_is_no_error(
    hostile: tuple[Served, httpx.Client], log_records: list[logging.LogRecord]
) -> None:
    served, http = hostile
    _leave_mid_body(served.url, "POST /_mock/clock/advance HTTP/1.1")
    _leave_mid_body(served.url, f"PUT /_mock/accounts/{KEY} HTTP/1.1")
    _leave_mid_body(served.url, "POST /eachlabs/v1/prediction/ HTTP/1.1", f"X-API-Key: {KEY}\r\n")
    _leave_mid_body(served.url, "POST /_mock/scenarios HTTP/1.1")
    time.sleep(0.2)
    assert served.state.unhandled_errors == []
    _no_tracebacks(log_records)
    _still_healthy(http)


def test_an_admin_body_over_the_limit_is_a_413(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served]
) -> None:
    from mockserver.config import LimitsConfig

    served = serve_app(make_app(config=MockConfig(limits=LimitsConfig(admin_body_bytes=1000))))
    with httpx.Client(base_url=served.url, timeout=15, trust_env=False) as http:
        big = json.dumps({"seconds": 1, "pad": "x" * 2000})
        for method, path in [("POST", "/_mock/clock/advance"), ("PUT", f"/_mock/accounts/{KEY}"),
                             ("POST", "/_mock/scenarios")]:
            reply = http.request(method, path, content=big,
                                 headers={"Content-Type": "application/json"})
            assert reply.status_code == 413, (path, reply.text)
            assert "admin_body_bytes" in reply.json()["error"]
            chunked = http.request(method, path, content=iter([big.encode()]),
                                   headers={"Content-Type": "application/json"})
            assert chunked.status_code == 413  # no Content-Length: counted while read
        assert http.post("/_mock/clock/advance", json={"seconds": 1}).status_code == 200


# --- the batch: >1,000 crafted requests to every endpoint --------------------------------

_SURROGATE = "\\ud800"
_STRINGS = ["", "\\ud800", "\\udfff\\ud800", "\u0000", "%00", "../../etc/passwd",
            "x" * 70_000, "<script>", "https://[zz]/a", "data:,x", "ftp://x/y",
            "http://169.254.169.254/", "\U0001f600" * 50, "' OR 1=1 --"]
_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", HUGE_INT, "-" + HUGE_INT[:4000],
            "0", "-1", "1.5", "1e-400", "123456789012345678901234567890", "true", "null"]


def _value(rng: random.Random, depth: int = 0) -> str:
    """A random JSON text: odd numbers and strings, arrays where objects go, deep nests."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(_NUMBERS)
    if kind == 1:
        return f'"{rng.choice(_STRINGS)}"'
    if kind == 2 and depth < 3:
        return "[" + ", ".join(_value(rng, depth + 1) for _ in range(rng.randrange(4))) + "]"
    if kind == 3 and depth < 3:
        names = ["a", "prompt", "model", _SURROGATE]
        return "{" + ", ".join(f'"{rng.choice(names)}": {_value(rng, depth + 1)}'
                               for _ in range(rng.randrange(4))) + "}"
    if kind == 4:
        return "[" * rng.choice([10, 900, 5000]) + "]" * rng.choice([0, 10])
    if kind == 5:
        return f'"{"x" * rng.choice([1, 1000, 100_000])}"'
    return rng.choice(['"ok"', "1", "{}", "[]", "0.5"])


def _body(rng: random.Random, fields: list[str]) -> bytes:
    """A body: a mutated object of ``fields``, or something that is not an object at all."""
    kind = rng.randrange(10)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))  # not UTF-8
    if kind == 1:
        return _value(rng).encode()  # an array, a number, a deep nest
    if kind == 2:
        return b'{"a": 1, "a": 2, "' + b"k" * 1000 + b'": {}}'
    if kind == 3:
        return b'{"unterminated": "'
    chosen = rng.sample(fields, k=rng.randrange(len(fields) + 1))
    return ("{" + ", ".join(f'"{name}": {_value(rng)}' for name in chosen) + "}").encode()


_CONTENT_TYPES = ["application/json", "application/json; charset=latin-1", "text/plain",
                  "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "multipart/form-data", "", "application/merge-patch+json", "*/*;;;"]
_PATH_NOISE = ["", "%", "%zz", "%ED%A0%80", "%00", "..%2f..%2f", "%FF%FE", "x" * 3000]
_QUERY_NOISE = ["limit=-1", "limit=999999999999999999999", "limit=1e3", "limit=x&limit=5",
                "cursor=%ED%A0%80", "cursor=-5", "cursor=99999999999999999999", "order=sideways",
                "provider=%00", "state=%FF", "taskId=%zz", "taskId=a&taskId=b", "%=%", "a=%E0%A4%A",
                "key=" + "k" * 3000]


def _provider_requests(rng: random.Random) -> list[tuple[str, str, dict[str, str], bytes]]:
    requests: list[tuple[str, str, dict[str, str], bytes]] = []
    fields = {"eachlabs": ["model", "input", "webhook_url", "version"],
              "wavespeed": ["prompt", "image", "seed", "duration", "webhook_url", "resolution"],
              "apikley": ["model", "input", "callBackUrl"]}
    paths = {
        "eachlabs": [("POST", "/v1/prediction/"), ("POST", "/v1/prediction"),
                     ("GET", "/v1/prediction/{id}"), ("POST", "/v1/prediction/{id}/cancel")],
        "wavespeed": [("GET", "/api/v3/predictions/{id}/result"),
                      ("GET", "/api/v3/predictions/{id}"),
                      ("GET", "/api/v3/balance"), ("POST", "/api/v3/media/upload/binary"),
                      ("POST", "/api/v3/media/uploads"),
                      ("POST", f"/api/v3/{MODELS['wavespeed']}"),
                      ("POST", "/api/v3/wavespeed-ai/nope")],
        "apikley": [("POST", "/api/v1/jobs/createTask"), ("GET", "/api/v1/jobs/recordInfo"),
                    ("GET", "/api/v1/chat/credit")],
    }
    for provider in PROVIDERS:
        auth = Api(httpx.Client(), provider, KEY).headers()
        for method, path in paths[provider]:
            for _ in range(36):
                filled = path.replace("{id}", rng.choice(["x", *_PATH_NOISE]))
                query = "&".join(rng.sample(_QUERY_NOISE, k=rng.randrange(3)))
                headers = dict(auth) if rng.random() < 0.9 else {}
                headers["Content-Type"] = rng.choice(_CONTENT_TYPES)
                if rng.random() < 0.1:
                    headers["Prefer"] = rng.choice(["scenario=%ED", "scenario=" + "x" * 2000,
                                                    "wait=1e400", "respond-async"])
                body = _body(rng, fields[provider]) if method == "POST" else b""
                requests.append((method, f"/{provider}{filled}" + (f"?{query}" if query else ""),
                                 headers, body))
    return requests


def _admin_requests(rng: random.Random) -> list[tuple[str, str, dict[str, str], bytes]]:
    requests: list[tuple[str, str, dict[str, str], bytes]] = []
    routes: list[tuple[str, str, list[str]]] = [
        ("GET", "/_mock/health", []), ("GET", "/_mock/clock", []),
        ("POST", "/_mock/clock/advance", ["seconds", "wait"]),
        ("GET", "/_mock/jobs", []), ("GET", "/_mock/jobs/{id}", []),
        ("GET", "/_mock/requests", []), ("GET", "/_mock/webhooks", []),
        ("GET", "/_mock/accounts", []), ("GET", "/_mock/accounts/{id}", []),
        ("PUT", "/_mock/accounts/{id}", ["balance", "balances", "valid", "limits",
                                         "webhook_secret", "provider"]),
        ("GET", "/_mock/scenarios", []),
        ("POST", "/_mock/scenarios", ["scenario", "code", "delay", "match", "times"]),
        ("GET", "/_mock/uploads", []), ("PUT", "/_mock/uploads/{id}", []),
        ("GET", "/_mock/uploads/{id}/f.png", []), ("GET", "/_mock/media/{id}.mp4", []),
        ("GET", "/_mock/openapi.json", []),
    ]
    for method, path, fields in routes:
        for _ in range(30):
            filled = path.replace("{id}", rng.choice([KEY, "x", *_PATH_NOISE]))
            query = "&".join(rng.sample(_QUERY_NOISE, k=rng.randrange(3)))
            body = _body(rng, fields or ["x"]) if method in ("POST", "PUT") else b""
            if method == "POST" and path == "/_mock/scenarios" and b'"delay"' in body:
                body = b'{"scenario": "fail"}'  # a real delay would only slow the test down
            headers = {"Content-Type": rng.choice(_CONTENT_TYPES)}
            requests.append((method, filled + (f"?{query}" if query else ""), headers, body))
    return requests


def test_a_thousand_hostile_requests_harm_nothing(
    hostile: tuple[Served, httpx.Client], log_records: list[logging.LogRecord]
) -> None:
    served, http = hostile
    rng = random.Random(16)
    requests = _provider_requests(rng) + _admin_requests(rng)
    rng.shuffle(requests)
    assert len(requests) >= 1000
    failures: list[str] = []
    seen: collections.Counter[int] = collections.Counter()
    for start in range(0, len(requests), 150):
        for method, path, headers, body in requests[start:start + 150]:
            reply = http.request(method, path, headers=headers, content=body)
            provider = path.split("/")[1]
            status = _body_code(provider, reply)
            seen[status] += 1
            if status >= 500 or reply.status_code >= 500:
                failures.append(f"{method} {path[:120]} {body[:120]!r} -> {status}: "
                                f"{reply.text[:200]}")
        _still_healthy(http)
    assert not failures, "\n".join(failures[:20])
    print(sorted(seen.items()))
    # The batch reaches the handlers (not only routing errors): some pass, most are refused.
    assert sum(n for code, n in seen.items() if code < 300) >= 100, seen
    assert sum(n for code, n in seen.items() if 400 <= code < 500 and code != 404) >= 300, seen
    assert served.state.unhandled_errors == []
    _no_tracebacks(log_records)
