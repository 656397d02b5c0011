"""Exchanges: read them (our fixture format, HAR 1.2), match them to endpoints, check them.

Shared by live drift (exchanges it makes) and recorded drift (exchanges it
reads). Matching is by method and path pattern from the provider contract's
``endpoints.<name>.paths``; a path parameter that carries the model id
(WaveSpeed's ``/api/v3/{model_id}``) may contain slashes, the others may not;
the most specific pattern wins (``/api/v3/balance`` before ``/api/v3/{model_id}``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from mockserver.contracts import ContractSet, ProviderContract
from mockserver.drift.context import Exchange, ExchangeContext, Where
from mockserver.drift.findings import Finding
from mockserver.drift.rules import RULES

__all__ = [
    "Recorded",
    "check",
    "exchange_from_fixture",
    "exchanges_from_har",
    "match_endpoint",
    "parse_body",
    "provider_for_url",
]


def parse_body(raw: bytes | str | None, content_type: str = "") -> tuple[Any, bool]:
    """(value, is_json): JSON bodies parsed, anything else kept as text."""
    if raw is None or raw == b"" or raw == "":
        return None, "json" in content_type.lower() or not content_type
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        return json.loads(text), True
    except ValueError:
        return text, False


def _pattern(path: str, greedy: str | None) -> tuple[re.Pattern[str], int, int]:
    """(regex, number of parameters, literal length) of a contract path pattern."""
    parts = re.split(r"(\{[^}]+\})", path)
    regex = ""
    params = 0
    literal = 0
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            params += 1
            regex += f"(?P<{name}>.+)" if name == greedy else f"(?P<{name}>[^/]+)"
        else:
            literal += len(part)
            regex += re.escape(part)
    return re.compile(regex + r"\Z"), params, literal


def match_endpoint(
    contract: ProviderContract, method: str, path: str
) -> tuple[str, dict[str, str]] | None:
    """(endpoint name, path parameters) for a request, or None."""
    candidates: list[tuple[int, int, str, dict[str, str]]] = []
    for name, endpoint in contract.spec.endpoints.items():
        if endpoint.method != method.upper():
            continue
        selector = endpoint.model_id or {}
        greedy = selector.get("param") if selector.get("in") == "path" else None
        for pattern in endpoint.paths:
            regex, params, literal = _pattern(str(pattern), greedy)
            found = regex.match(path)
            if found:
                candidates.append((params, -literal, name, found.groupdict()))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]))
    return candidates[0][2], candidates[0][3]


def provider_for_url(contracts: ContractSet, url: str) -> tuple[str, str] | None:
    """(provider, path without a mock prefix) from a URL's host or ``/<provider>`` prefix."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for name, contract in contracts.providers.items():
        if host in contract.spec.hosts:
            return name, parts.path
    for name in contracts.providers:
        prefix = f"/{name}"
        if parts.path == prefix or parts.path.startswith(prefix + "/"):
            return name, parts.path[len(prefix) :] or "/"
    return None


def strip_prefix(provider: str, path: str) -> str:
    """A path recorded against the mock (``/eachlabs/v1/...``) as the provider sees it."""
    prefix = f"/{provider}"
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return path


@dataclass(frozen=True)
class Recorded:
    """One exchange read from a file, with where it came from."""

    subject: str
    exchange: Exchange
    kind: Literal["response", "webhook"]
    provider: str | None
    url: str | None = None


def _headers(raw: Any) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k).lower(): str(v) for k, v in raw.items()}
    if isinstance(raw, list):  # HAR: [{name, value}]
        return {str(h.get("name", "")).lower(): str(h.get("value", "")) for h in raw}
    return {}


def exchange_from_fixture(data: Mapping[str, Any], subject: str) -> Recorded:
    """A fixture-format exchange (``request``/``response``, or ``webhook``)."""
    provider = data.get("provider")
    if "webhook" in data:
        hook = data["webhook"]
        body = hook.get("body")
        is_json = not isinstance(body, str) or parse_body(body)[1]
        return Recorded(
            subject,
            Exchange(
                method=str(hook.get("method", "POST")),
                path=str(hook.get("path", "")),
                status=None,
                headers=_headers(hook.get("headers")),
                body=body if not isinstance(body, str) else parse_body(body)[0],
                body_is_json=is_json,
            ),
            "webhook",
            str(provider) if provider else None,
        )
    request = data.get("request") or {}
    response = data.get("response") or {}
    if not isinstance(request, Mapping) or not isinstance(response, Mapping):
        raise ValueError(f"{subject}: request and response must be objects")
    if "status" not in response or "method" not in request:
        raise ValueError(f"{subject}: not an exchange (needs request.method and response.status)")
    target = str(request.get("url") or request.get("path") or "/")
    parts = urlsplit(target)
    body = response.get("body")
    is_json = bool(response.get("body_is_json", True))
    if isinstance(body, str) and is_json:
        body, is_json = parse_body(body, _headers(response.get("headers")).get("content-type", ""))
    return Recorded(
        subject,
        Exchange(
            method=str(request["method"]).upper(),
            path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            request_headers=_headers(request.get("headers")),
            request_body=request.get("body"),
            status=int(response["status"]),
            headers=_headers(response.get("headers")),
            body=body,
            body_is_json=is_json,
        ),
        "response",
        str(provider) if provider else None,
        target if parts.scheme else None,
    )


def exchanges_from_har(data: Mapping[str, Any], subject: str) -> Iterator[Recorded]:
    """Every entry of a HAR 1.2 log (``log.entries[].request/response``)."""
    log = data.get("log")
    if not isinstance(log, Mapping) or not isinstance(log.get("entries"), list):
        raise ValueError(f"{subject}: not a HAR file (no log.entries)")
    for index, entry in enumerate(log["entries"]):
        request = entry.get("request") or {}
        response = entry.get("response") or {}
        content = response.get("content") or {}
        text = content.get("text")
        if text is not None and content.get("encoding") == "base64":
            text = base64.b64decode(text).decode("utf-8", errors="replace")
        body, is_json = parse_body(text, str(content.get("mimeType", "")))
        post = request.get("postData") or {}
        request_body, _ = parse_body(post.get("text"), str(post.get("mimeType", "")))
        url = str(request.get("url", ""))
        parts = urlsplit(url)
        yield Recorded(
            f"{subject}#{index}",
            Exchange(
                method=str(request.get("method", "GET")).upper(),
                path=parts.path or "/",
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                request_headers=_headers(request.get("headers")),
                request_body=request_body,
                status=int(response.get("status", 0)),
                headers=_headers(response.get("headers")),
                body=body,
                body_is_json=is_json,
            ),
            "response",
            None,
            url,
        )


def check(
    contract: ProviderContract,
    exchange: Exchange,
    where: Where,
    *,
    kind: Literal["response", "webhook"] = "response",
    endpoint: str | None = None,
    expect_case: str | None = None,
) -> tuple[list[Finding], ExchangeContext]:
    """Run every exchange rule; ``endpoint`` is matched from method and path when not given."""
    if endpoint is None and kind == "response":
        matched = match_endpoint(contract, exchange.method, exchange.path)
        endpoint = matched[0] if matched else None
    expect_code: int | None = None
    if expect_case is not None:
        case = contract.spec.errors.cases.get(expect_case)
        expect_code = case.code if case is not None else None
        # An endpoint may override a case (Apikley's poll: unknown id -> 422 in the body).
        if endpoint is not None:
            override = contract.spec.endpoints[endpoint].cases.get(expect_case)
            if override is not None and override.code is not None:
                expect_code = override.code
    context = ExchangeContext(
        where=where,
        contract=contract,
        exchange=exchange,
        endpoint=endpoint,
        kind=kind,
        expect_case=expect_case,
        expect_code=expect_code,
    )
    return RULES.run("exchange", context), context
