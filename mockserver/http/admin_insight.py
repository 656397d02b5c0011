"""Admin endpoints the console reads: a job's timeline and a journal entry's detail.

``GET /_mock/jobs/{job_id}/timeline`` (:mod:`mockserver.http.timeline`) and
``GET /_mock/requests/{seq}`` (one journal entry, with its near-miss,
:mod:`mockserver.http.nearmiss`). :func:`journal_view` is the entry shape of
``GET /_mock/requests`` too. Their OpenAPI entries live here as well
(:func:`add_insight_openapi`, called once by the admin document's builder).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.http.journal import exchange_entry
from mockserver.http.nearmiss import near_miss
from mockserver.http.timeline import JOURNAL_SCAN, MAX_EVENTS, job_timeline

__all__ = ["add_insight_openapi", "insight_routes", "journal_view"]


def journal_view(adapters: Any, kept: Any) -> dict[str, Any]:
    """A journal entry as the admin API shows it, with its ``near_miss`` (None if matched)."""
    entry = exchange_entry(kept)
    entry["near_miss"] = near_miss(adapters, entry["provider"], entry["method"], entry["path"],
                                   entry["endpoint"], entry["status"], kept[8])
    return entry


def insight_routes() -> list[BaseRoute]:
    """The routes, relative to ``/_mock``; the guarded endpoints come from admin.py."""
    from mockserver.http import admin  # admin.py imports this module for its route list

    @admin.guarded
    async def timeline(request: Request) -> Response:
        state = request.app.state.mock
        job_id = request.path_params["job_id"]
        job = state.world.get(job_id)
        if job is None:
            raise admin.AdminError(404, f"no job {job_id!r}")
        state.tick()
        view = admin.job_to_dict(job, admin.status_word(state, job))
        return admin.json_response(job_timeline(state, job, view))

    @admin.guarded
    async def request_detail(request: Request) -> Response:
        state = request.app.state.mock
        raw = request.path_params["seq"]
        try:
            seq = int(raw)
        except ValueError:
            raise admin.AdminError(400, f"seq must be an integer, got {raw[:40]!r}") from None
        kept = state.journal.get(seq)
        if kept is None:
            raise admin.AdminError(404, f"no journal entry {seq} (unknown, or left the ring)")
        return admin.json_response(journal_view(state.adapters, kept))

    return [
        Route("/jobs/{job_id:str}/timeline", timeline, methods=["GET"]),
        Route("/requests/{seq:str}", request_detail, methods=["GET"]),
    ]


# --- OpenAPI -------------------------------------------------------------------------

_NEAR_MISS = {
    "type": ["object", "null"],
    "description": "for a request the mock could not match (unknown path, unknown model, "
                   "wrong method): the nearest things it knows; null for a matched request",
    "required": ["kind", "suggestion", "known"],
    "properties": {
        "kind": {"enum": ["path", "model", "method"]},
        "suggestion": {"type": "string", "description": "e.g. did you mean ...?"},
        "known": {"type": "array", "items": {"type": "string"}, "maxItems": 5,
                  "description": "nearest first"},
    },
}

_EVENT = {
    "type": "object",
    "required": ["seq", "at", "wall", "kind", "title", "detail", "request_seq"],
    "properties": {
        "seq": {"type": "integer", "description": "1, 2, ... in time order"},
        "at": {"type": "number", "description": "mock time, unix seconds"},
        "wall": {"type": ["number", "null"], "description":
                 "unix time it happened, when known (requests and webhook attempts; a "
                 "real clock never advanced by hand maps the rest)"},
        "kind": {"enum": ["create", "poll", "transition", "credit", "rate_limit", "scenario",
                          "webhook_attempt", "cancel", "output"]},
        "title": {"type": "string", "description": "one short human line"},
        "detail": {"type": "object", "description": "kind-specific; secrets masked"},
        "request_seq": {"type": ["integer", "null"],
                        "description": "the journal entry (GET /_mock/requests/{seq})"},
    },
}

_ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


INSIGHT_PATHS: dict[str, Any] = {
    "/_mock/jobs/{job_id}/timeline": {
        "get": {
            "summary": "A job's story: create, polls, transitions, credits, rate limit, "
                       "scenario, webhook attempts, cancel, outputs",
            "description": f"Composed from the journal, the job and the webhook outbox when "
                           f"read. At most {MAX_EVENTS} events (polls beyond it are left "
                           f"out, first and last kept) and {JOURNAL_SCAN} journal entries "
                           "examined; `truncated` is true when anything is missing, also "
                           "polls the journal's ring no longer holds.",
            "operationId": "getJobTimeline",
            "parameters": [{"name": "job_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {
                "200": _answer({
                    "type": "object", "required": ["job", "events", "truncated"],
                    "properties": {
                        "job": {"$ref": "#/components/schemas/Job"},
                        "events": {"type": "array", "items": _EVENT, "maxItems": MAX_EVENTS},
                        "truncated": {"type": "boolean"},
                    }}, "the timeline, oldest event first"),
                "404": _answer(_ERROR, "no such job"),
            },
        }
    },
    "/_mock/requests/{seq}": {
        "get": {
            "summary": "One journal entry, with its near-miss",
            "operationId": "getRequest",
            "parameters": [{"name": "seq", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {
                "200": _answer({"$ref": "#/components/schemas/JournalEntry"}, "the entry"),
                "400": _answer(_ERROR, "seq is not an integer"),
                "404": _answer(_ERROR, "no such entry (or it left the journal's ring)"),
            },
        }
    },
}


def add_insight_openapi(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Add these endpoints, the journal's ``?job=`` filter, its entries' new fields and
    an attempt's ``wall`` to the admin document's ``paths`` and ``components.schemas``."""
    paths.update(INSIGHT_PATHS)
    listing = paths.get("/_mock/requests", {}).get("get")
    if listing is not None:
        listing.setdefault("parameters", []).append(
            {"name": "job", "in": "query", "required": False,
             "description": "only entries of this job id (its create, polls, cancel)",
             "schema": {"type": "string"}})
    attempt = schemas.get("Attempt")
    if attempt is not None:
        attempt["properties"]["wall"] = {"type": ["number", "null"],
                                         "description": "unix time the attempt was sent"}
    entry = schemas.get("JournalEntry")
    if entry is not None:
        entry["properties"].update({
            "job_id": {"type": ["string", "null"],
                       "description": "the job the request created or read"},
            "wall": {"type": ["number", "null"], "description": "unix time of the request"},
            "near_miss": _NEAR_MISS,
        })
