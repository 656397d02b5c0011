"""The nearest thing the mock knows, for a request it could not match.

Computed when a journal entry is read (``GET /_mock/requests``, its detail,
a job's timeline), never on the request path: the provider's own error
answer is what the client got, unchanged; this is the admin view of why.

Three kinds, from what the mock knows about the provider:

* ``method``: the path exists, the method does not (a 405): the methods it allows;
* ``path``: no route matches (a 404): the provider's routes, with the request's
  own ids filled into their parameters, nearest first;
* ``model``: a create naming a model the provider does not serve: its model
  ids from the contracts, nearest first.

Nearness is :class:`difflib.SequenceMatcher`'s ratio; ``known`` lists up to
:data:`MAX_KNOWN` candidates and ``suggestion`` says the best one.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from mockserver import wirejson

__all__ = ["MAX_KNOWN", "near_miss"]

#: Candidates listed at most.
MAX_KNOWN = 5
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}")


def near_miss(
    adapters: Mapping[str, Any], provider: str | None, method: str, path: str,
    endpoint: str | None, status: int, body: bytes,
) -> dict[str, Any] | None:
    """``{"kind", "suggestion", "known"}`` for an unmatched request; None for a matched one.

    Decided from the request, not the status (Apikley answers a miss with HTTP 200
    and the code in its body): no route for the path is a ``path`` miss, a route
    for another method a ``method`` miss, an unknown model id a ``model`` miss.
    """
    if provider is None or provider not in adapters:
        return _unknown_provider(adapters, path) if status == 404 else None
    adapter = adapters[provider]
    root = f"/{provider}" if path == f"/{provider}" or path.startswith(f"/{provider}/") else ""
    local = path[len(root):] or "/"
    if endpoint is None:
        allowed = _allowed(adapter, local)
        wanted = "GET" if method == "HEAD" else method
        if wanted in allowed:
            return None  # the route exists: refused for another reason (a body too large)
        if allowed:
            return _method(method, allowed, local, root)
        return _path(adapter, method, local, root)
    return _model(adapter, endpoint, local, body)


def _routes(adapter: Any) -> list[tuple[str, str, str]]:
    """``(method, path template, endpoint)`` of every route the adapter serves."""
    return [(str(route.method).upper(), str(route.path), str(route.name))
            for route in adapter.routes()]


def _allowed(adapter: Any, local: str) -> list[str]:
    """Methods of the routes whose path matches ``local`` (as the router decides: a
    catch-all such as WaveSpeed's ``/api/v3/{model_id:path}`` only for a real model)."""
    allowed: list[str] = []
    for route in adapter.routes():
        found = re.fullmatch(_named_regex(str(route.path)), local)
        if found is None:
            continue
        exists = getattr(route, "exists", None)
        if exists is not None and not exists(found.groupdict()):
            continue
        if str(route.method).upper() not in allowed:
            allowed.append(str(route.method).upper())
    return allowed


def _method(method: str, allowed: list[str], local: str, root: str) -> dict[str, Any]:
    return {"kind": "method", "known": allowed[:MAX_KNOWN],
            "suggestion": f"{method} is not served here; did you mean "
                          f"{allowed[0]} {root}{local}?"}


def _path(adapter: Any, method: str, local: str, root: str) -> dict[str, Any] | None:
    models = sorted(getattr(adapter.contract, "models", {}))
    scored: list[tuple[float, str]] = []
    for route_method, template, _ in _routes(adapter):
        for candidate in _fill(template, local, models):
            score = difflib.SequenceMatcher(None, local, candidate).ratio()
            if route_method == method:
                score += 0.05  # the same method breaks ties between similar paths
            scored.append((score, f"{route_method} {root}{candidate}"))
    if not scored:
        return None
    scored.sort(key=lambda item: -item[0])
    known = list(dict.fromkeys(text for _, text in scored))[:MAX_KNOWN]
    return {"kind": "path", "known": known, "suggestion": f"did you mean {known[0]}?"}


def _fill(template: str, local: str, models: list[str]) -> list[str]:
    """The template as concrete paths: the request's own segments where parameters are
    (ids), and each known model id for a model parameter."""
    if "{model_id" in template:
        return [_PARAM.sub(model, template, count=1) for model in models] or [template]
    wanted = template.strip("/").split("/")
    given = local.strip("/").split("/")
    filled = [given[i] if _PARAM.fullmatch(part) and i < len(given) else part
              for i, part in enumerate(wanted)]
    text = "/" + "/".join(filled)
    return [text + ("/" if template.endswith("/") and text != "/" else "")]


def _model(adapter: Any, endpoint: str, local: str, body: bytes) -> dict[str, Any] | None:
    contract = adapter.contract
    section = contract.spec.endpoints.get(endpoint)
    spec = section.model_id if section is not None else None
    if spec is None:
        return None
    model: Any = None
    if spec.get("in") == "body":
        try:
            parsed = wirejson.loads(body) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        pointer = [part for part in str(spec.get("pointer", "/model")).split("/") if part]
        model = parsed
        for part in pointer:
            model = model.get(part) if isinstance(model, dict) else None
    elif spec.get("in") == "path":
        for _, template, name in _routes(adapter):
            if name != endpoint:
                continue
            found = re.fullmatch(_named_regex(template), local)
            if found is not None:
                model = found.groupdict().get(str(spec.get("param", "model_id")))
                break
    known_models = sorted(getattr(contract, "models", {}))
    if not isinstance(model, str) or model in known_models or not known_models:
        return None
    ranked = sorted(known_models,
                    key=lambda known: -difflib.SequenceMatcher(None, model, known).ratio())
    return {"kind": "model", "known": ranked[:MAX_KNOWN],
            "suggestion": f"unknown model {model[:200]!r}; did you mean {ranked[0]}?"}


def _named_regex(template: str) -> str:
    pattern = ""
    last = 0
    for found in _PARAM.finditer(template):
        pattern += re.escape(template[last:found.start()])
        body = ".+" if ":path" in found.group(0) else "[^/]+"
        pattern += f"(?P<{found.group(1)}>{body})"
        last = found.end()
    return pattern + re.escape(template[last:])


def _unknown_provider(adapters: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    first = path.strip("/").split("/", 1)[0]
    names = sorted(adapters)
    if not names:
        return None
    ranked = sorted(names, key=lambda name: -difflib.SequenceMatcher(None, first, name).ratio())
    rest = path.strip("/").split("/", 1)[1] if "/" in path.strip("/") else ""
    known = [f"/{name}/{rest}" if rest else f"/{name}/" for name in ranked][:MAX_KNOWN]
    return {"kind": "path", "known": known,
            "suggestion": f"no provider at /{first}; did you mean {known[0]}?"}
