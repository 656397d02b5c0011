"""The admin API's own OpenAPI 3.1 document (served at ``GET /_mock/openapi.json``).

Written by hand, next to :mod:`mockserver.http.admin`; a test checks that
every admin route appears here and that the document is valid OpenAPI 3.1.
"""

from __future__ import annotations

from typing import Any

from mockserver.console.openapi import CONSOLE_OPENAPI_PATHS
from mockserver.http.admin_insight import add_insight_openapi

__all__ = ["build_admin_openapi"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


_PROVIDER = _query("provider", "only this provider's entries", {"type": "string"})


def _paging(default_order: str) -> list[dict[str, Any]]:
    """``limit``, ``cursor`` and ``order`` of every admin list (mockserver.http.paging)."""
    return [
        _query("limit", "items per page (default 100, at most 500)",
               {"type": "integer", "minimum": 0, "maximum": 500, "default": 100}),
        _query("cursor", "the `next_cursor` of the previous page", {"type": "string"}),
        _query("order", f"newest or oldest first (default {default_order})",
               {"enum": ["newest", "oldest"], "default": default_order}),
    ]


def _page(name: str, item: dict[str, Any], description: str,
          **extra: dict[str, Any]) -> dict[str, Any]:
    """The 200 response of a paged list: ``count``, the items, ``next_cursor``, ``limit``."""
    return _json({"type": "object", "required": ["count", name, "next_cursor", "limit"],
                  "properties": {
                      "count": {"type": "integer", "description": "items on this page"},
                      name: {"type": "array", "items": item},
                      "next_cursor": {"type": ["string", "null"], "description":
                                      "pass as `cursor` for the next page; null on the last. "
                                      "A page may hold fewer than `limit` items and still "
                                      "have a next one: one call examines at most 5,000 "
                                      "stored items"},
                      "limit": {"type": "integer"},
                      "stored": {"type": "integer", "description": "items stored in all"},
                      **extra,
                  }}, description)


_BAD_PAGE = "bad limit, cursor, order or filter"
_TOO_LARGE = "body over limits.admin_body_bytes"


def build_admin_openapi(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``/_mock/`` (a fresh dict on every call)."""
    schemas: dict[str, Any] = {
        "Upload": {
            "type": "object",
            "required": ["token", "filename", "content_type", "size", "complete"],
            "properties": {
                "token": {"type": "string"},
                "filename": {"type": "string"},
                "content_type": {"type": "string"},
                "size": {"type": "integer", "description": "bytes received, else announced"},
                "complete": {"type": "boolean", "description": "the bytes have been put"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "Clock": {
            "type": "object",
            "required": ["kind", "now", "iso"],
            "properties": {
                "kind": {"enum": ["real", "manual"]},
                "now": {"type": "number", "description": "mock time, unix seconds"},
                "iso": {"type": "string", "format": "date-time"},
                "speed": {"type": "number", "description": "real clock speed-up factor"},
            },
        },
        "Job": {
            "type": "object",
            "required": ["id", "provider", "model_id", "state", "created_at"],
            "properties": {
                "id": {"type": "string"},
                "provider": {"type": "string"},
                "model_id": {"type": "string"},
                "key": {"type": "string", "description": "API key, masked"},
                "state": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
                "status": {
                    "type": ["string", "null"],
                    "description": "the provider's status word a poll would show now",
                },
                "created_at": {"type": "number"},
                "started_at": {"type": ["number", "null"]},
                "finished_at": {"type": ["number", "null"]},
                "updated_at": {"type": "number"},
                "next_due": {"type": ["number", "null"]},
                "polls": {"type": "integer"},
                "held": {"type": "boolean"},
                "scenario": {"type": ["string", "null"]},
                "failure": {"type": ["string", "null"]},
                "outputs": {"type": "array", "items": {"type": "string"}},
                "cost": {},
                "input": {"type": "object"},
                "plan": {"type": "object"},
                "webhook": {"type": ["object", "null"]},
                "extra": {"type": "object"},
            },
        },
        "Attempt": {
            "type": "object",
            "required": ["attempt", "at", "outcome"],
            "properties": {
                "delivery_id": {"type": "string"},
                "attempt": {"type": "integer", "minimum": 1},
                "at": {"type": "number"},
                "outcome": {"enum": ["delivered", "rejected", "timeout", "refused", "error"]},
                "status_code": {"type": ["integer", "null"]},
                "error": {"type": ["string", "null"]},
                "duration_ms": {"type": "number"},
            },
        },
        "Delivery": {
            "type": "object",
            "required": ["id", "job_id", "provider", "url", "state", "attempts"],
            "properties": {
                "id": {"type": "string"},
                "job_id": {"type": "string"},
                "provider": {"type": "string"},
                "url": {"type": "string"},
                "kind": {"type": "string"},
                "state": {"enum": ["pending", "in_flight", "delivered", "gave_up"]},
                "due": {"type": "number"},
                "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
                "body": {"type": "string", "description": "the payload as sent"},
                "dropped": {"type": ["string", "null"],
                            "description": "why it was given up unsent (the outbox bound)"},
                "resend_of": {"type": ["string", "null"],
                              "description": "the delivery this one resends"},
                "resent_as": {"type": ["string", "null"],
                              "description": "the delivery that resent this one"},
            },
        },
        "Account": {
            "type": "object",
            "required": ["key", "valid", "accounts"],
            "properties": {
                "key": {"type": "string"},
                "valid": {"type": "boolean"},
                "webhook_secret": {"type": "string"},
                "limits": {"type": "object"},
                "used_with": {"type": "array", "items": {"type": "string"}},
                "accounts": {"type": "object", "description": "per provider: balance, currency"},
            },
        },
        "JournalEntry": {
            "type": "object",
            "required": ["seq", "at", "method", "path", "status"],
            "properties": {
                "seq": {"type": "integer"},
                "at": {"type": "number", "description": "mock time of the request"},
                "method": {"type": "string"},
                "path": {"type": "string"},
                "provider": {"type": ["string", "null"]},
                "endpoint": {"type": ["string", "null"]},
                "query": {"type": "object"},
                "headers": {
                    "type": "object",
                    "description": "secrets masked to *** plus at most 4 characters",
                },
                "body": {"description": "JSON if it parsed, else text; cut beyond "
                                        "limits.journal_body_bytes; null for an upload"},
                "body_bytes": {"type": "integer", "description": "the whole body's size"},
                "body_truncated": {"type": "boolean",
                                   "description": "only part of the body (or none) was kept"},
                "status": {"type": "integer"},
                "response": {"description": "the response body, cut likewise (none for media)"},
                "response_bytes": {"type": "integer"},
                "response_truncated": {"type": "boolean"},
                "duration_ms": {"type": "number"},
            },
        },
    }
    outbox = {
        "type": "object",
        "description": "webhook deliveries waiting (pending or in flight), their bytes, how "
                       "many were dropped at the bounds, and the bounds",
        "properties": {k: {"type": "integer"} for k in (
            "waiting", "waiting_bytes", "dropped", "max_pending", "max_pending_bytes")},
    }
    paths: dict[str, Any] = {
        "/_mock/health": {
            "get": {
                "summary": "Liveness, providers served, clock, counters",
                "operationId": "health",
                "responses": {"200": _json({"type": "object", "required": ["status"],
                                            "properties": {"status": {"const": "ok"},
                                                           "webhook_outbox": outbox}},
                                           "the server is up")},
            }
        },
        "/_mock/reset": {
            "post": {
                "summary": "Forget every job, delivery, upload and journal entry (the clock "
                           "keeps time)",
                "operationId": "reset",
                "responses": {"200": _json({"type": "object"}, "reset done")},
            }
        },
        "/_mock/jobs": {
            "get": {
                "summary": "Jobs in neutral terms",
                "operationId": "listJobs",
                "parameters": [
                    _PROVIDER,
                    _query("state", "only jobs in this neutral state",
                           {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]}),
                    _query("model", "only jobs of this model id", {"type": "string"}),
                    _query("key", "only jobs of this API key (whole)", {"type": "string"}),
                    *_paging("newest"),
                ],
                "responses": {
                    "200": _page("jobs", {"$ref": "#/components/schemas/Job"},
                                 "one page of jobs, newest first"),
                    "400": _error(_BAD_PAGE),
                },
            }
        },
        "/_mock/jobs/{job_id}": {
            "get": {
                "summary": "One job",
                "operationId": "getJob",
                "parameters": [{"name": "job_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Job"}, "the job"),
                    "404": _error("no such job"),
                },
            }
        },
        "/_mock/requests": {
            "get": {
                "summary": "The request journal (provider and media requests)",
                "operationId": "listRequests",
                "parameters": [
                    _PROVIDER,
                    _query("endpoint", "only this endpoint's entries (create, poll, ...)",
                           {"type": "string"}),
                    _query("status", "only entries answered with this HTTP status",
                           {"type": "integer"}),
                    *_paging("newest"),
                ],
                "responses": {
                    "200": _page("requests", {"$ref": "#/components/schemas/JournalEntry"},
                                 "one page of entries, newest first",
                                 stored_bytes={"type": "integer", "description":
                                               "estimated bytes the journal holds"}),
                    "400": _error(_BAD_PAGE),
                },
            }
        },
        "/_mock/webhooks": {
            "get": {
                "summary": "Webhook deliveries with every attempt",
                "operationId": "listWebhooks",
                "parameters": [
                    _PROVIDER,
                    _query("job_id", "only this job's deliveries", {"type": "string"}),
                    _query("state", "only deliveries in this state",
                           {"enum": ["pending", "in_flight", "delivered", "gave_up"]}),
                    *_paging("oldest"),
                ],
                "responses": {
                    "200": _page("deliveries", {"$ref": "#/components/schemas/Delivery"},
                                 "one page of deliveries, in the order they were enqueued"),
                    "400": _error(_BAD_PAGE),
                },
            }
        },
        "/_mock/webhooks/{delivery_id}/resend": {
            "post": {
                "summary": "Redeliver a finished delivery: a new attempt series, due now",
                "description": (
                    "Only a delivered or given-up delivery (also one dropped at the outbox "
                    "bound) can be resent. The new delivery has a new id, the same URL, "
                    "payload and retry policy, fresh signatures, no scenario effects "
                    "(webhook_refused...), and `resend_of` pointing back; the original gets "
                    "`resent_as`. The URL is checked against the webhook target rule again "
                    "before every attempt."
                ),
                "operationId": "resendWebhook",
                "parameters": [{"name": "delivery_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Delivery"}, "the new delivery"),
                    "404": _error("no such delivery (unknown, or evicted)"),
                    "409": _error("the delivery is still pending or in flight"),
                },
            }
        },
        "/_mock/clock": {
            "get": {
                "summary": "The mock clock",
                "operationId": "getClock",
                "responses": {"200": _json({"$ref": "#/components/schemas/Clock"}, "now")},
            }
        },
        "/_mock/clock/advance": {
            "post": {
                "summary": "Move mock time forward; due jobs advance and due webhooks fire",
                "operationId": "advanceClock",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["seconds"],
                        "additionalProperties": False,
                        "properties": {
                            "seconds": {"type": "number", "minimum": 0,
                                        "maximum": 3155760000,
                                        "description": "at most 100 years, and never past "
                                                       "9000-01-01 mock time"},
                            "wait": {"type": "boolean", "default": False,
                                     "description": "answer only after due webhooks were "
                                                    "attempted (at most 5 s)"},
                        },
                    }}},
                },
                "responses": {
                    "200": _json({"allOf": [{"$ref": "#/components/schemas/Clock"}, {
                        "type": "object",
                        "properties": {"advanced": {"type": "number"},
                                       "settled": {"type": "boolean"},
                                       "webhook_attempts": {"type": "integer"}},
                    }]}, "the new time"),
                    "400": _error("seconds missing, not a number, or out of range (the "
                                  "message names the range); the clock did not move"),
                    "413": _error(_TOO_LARGE),
                },
            }
        },
        "/_mock/media/{name}.mp4": {
            "get": {
                "summary": "A small real MP4 (every output URL points here); Range supported",
                "operationId": "getMedia",
                "parameters": [
                    {"name": "name", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "Range", "in": "header", "required": False,
                     "schema": {"type": "string", "examples": ["bytes=0-1023"]}},
                ],
                "responses": {
                    "200": {"description": "the file",
                            "content": {"video/mp4": {"schema": {}}}},
                    "206": {"description": "the requested range",
                            "content": {"video/mp4": {"schema": {}}}},
                    "416": {"description": "range not satisfiable"},
                },
            }
        },
        "/_mock/uploads": {
            "get": {
                "summary": "Files uploaded to a provider's upload endpoints, oldest first",
                "operationId": "listUploads",
                "parameters": _paging("oldest"),
                "responses": {
                    "200": _page("uploads", {"$ref": "#/components/schemas/Upload"},
                                 "one page of uploads and the store's bounds",
                                 max_uploads={"type": "integer"},
                                 max_bytes={"type": "integer"}),
                    "400": _error(_BAD_PAGE),
                },
            },
        },
        "/_mock/uploads/{token}": {
            "put": {
                "summary": "The bytes of an announced upload (the URL an upload ticket gives)",
                "operationId": "putUpload",
                "parameters": [{"name": "token", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"*/*": {"schema": {}}}},
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Upload"}, "stored"),
                    "400": _error("the body ended before its declared length"),
                    "404": _error("no such upload (unknown, or evicted)"),
                    "413": _error("over the store's max_bytes"),
                },
            },
        },
        "/_mock/uploads/{token}/{filename}": {
            "get": {
                "summary": "An uploaded file (the download URL an upload gives); HEAD too",
                "operationId": "getUpload",
                "parameters": [
                    {"name": "token", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "filename", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "the file, with the media type it was uploaded as",
                            "content": {"*/*": {"schema": {}}}},
                    "404": _error("no such upload, or its bytes were never put"),
                },
            },
        },
        "/_mock/accounts": {
            "get": {
                "summary": "Keys seen or configured (sorted; key and webhook secret masked), "
                           "with defaults",
                "operationId": "listAccounts",
                "parameters": [
                    _query("limit", "items per page (default 100, at most 500)",
                           {"type": "integer", "minimum": 0, "maximum": 500, "default": 100}),
                    _query("cursor", "the `next_cursor` of the previous page",
                           {"type": "string"}),
                ],
                "responses": {
                    "200": _page("keys", {"allOf": [
                        {"$ref": "#/components/schemas/Account"},
                        {"type": "object", "properties": {
                            "key": {"type": "string", "description": "masked: *** plus at "
                                    "most the last 4 characters"},
                            "webhook_secret": {"type": "string", "description": "masked"},
                            "fingerprint": {"type": "string", "description":
                                            "first 12 hex digits of sha256(key): tells "
                                            "keys apart"},
                        }},
                    ]}, "one page of keys, sorted by key", defaults={"type": "object"}),
                    "400": _error(_BAD_PAGE),
                },
            }
        },
        "/_mock/accounts/{key}": {
            "parameters": [{"name": "key", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {
                "summary": "One API key: validity, webhook secret, limits, balance per provider "
                           "(key and secret whole: the only place they are)",
                "operationId": "getAccount",
                "responses": {"200": _json({"$ref": "#/components/schemas/Account"}, "the key")},
            },
            "put": {
                "summary": "Change a key: balance(s), validity, limits, webhook secret",
                "operationId": "putAccount",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "balance": {"type": ["number", "string"], "description":
                                    "for `provider`, else every provider the key uses"},
                        "balances": {"type": "object",
                                     "additionalProperties": {"type": ["number", "string"]}},
                        "provider": {"type": "string"},
                        "valid": {"type": "boolean"},
                        "limits": {"type": "object"},
                        "webhook_secret": {"type": "string"},
                    },
                }}}},
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Account"}, "the key, updated"),
                    "400": _error("unknown field or bad value (a number out of range names "
                                  "the field and the range); nothing changed"),
                    "413": _error(_TOO_LARGE),
                },
            },
        },
        "/_mock/scenarios": {
            "get": {
                "summary": "Queued scenarios and every scenario available",
                "operationId": "listScenarios",
                "parameters": _paging("oldest"),
                "responses": {
                    "200": _page("queued", {"type": "object"},
                                 "one page of the queue, and every scenario available",
                                 available={"type": "array", "items": {"type": "object"}}),
                    "400": _error(_BAD_PAGE),
                },
            },
            "post": {
                "summary": "Queue a scenario for matching calls (for clients that cannot "
                           "send a Prefer header)",
                "operationId": "addScenario",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "anyOf": [{"required": ["scenario"]}, {"required": ["code"]}],
                    "properties": {
                        "scenario": {"type": "string", "examples": ["job_failed"]},
                        "code": {"type": "integer", "examples": [429]},
                        "delay": {"type": "number", "minimum": 0, "maximum": 300},
                        "times": {"type": "integer", "minimum": 1, "default": 1},
                        "match": {"type": "object", "additionalProperties": False,
                                  "properties": {
                                      "provider": {"type": "string"},
                                      "endpoint": {"type": "string",
                                                   "examples": ["create", "poll"]},
                                      "model": {"type": "string"},
                                      "key": {"type": "string"},
                                      "nth": {"type": "integer", "minimum": 1},
                                  }},
                    },
                }}}},
                "responses": {
                    "201": _json({"type": "object"}, "the queued entry"),
                    "400": _error("unknown scenario, bad code or malformed entry"),
                    "413": _error(_TOO_LARGE),
                },
            },
            "delete": {
                "summary": "Drop every queued scenario",
                "operationId": "clearScenarios",
                "responses": {"200": _json({"type": "object", "properties": {
                    "cleared": {"type": "integer"}}}, "how many were dropped")},
            },
        },
        "/_mock/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        },
        "/_mock/ca.pem": {
            "get": {
                "summary": "The HTTPS proxy's CA certificate, for SSL_CERT_FILE / "
                           "REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS",
                "operationId": "caCertificate",
                "responses": {
                    "200": {
                        "description": "PEM of the local CA (`mockserver serve` made it on "
                                       "first start; reused on later starts)",
                        "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                    },
                    "404": _error("the server runs no HTTPS proxy (an in-process app, "
                                  "or --no-https-proxy)"),
                },
            }
        },
    }
    add_insight_openapi(paths, schemas)  # the console's data: mockserver.http.admin_insight
    paths.update(CONSOLE_OPENAPI_PATHS)  # the console itself: mockserver.console.openapi
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "genmock admin API",
            "version": "1",
            "description": (
                "Inspect and steer the mock server: jobs, request journal, webhook "
                "deliveries, the mock clock, API keys and balances, fault scenarios. "
                "JSON in, JSON out; errors are "
                '{"error": "..."} with a 4xx status. Lists are paged: `limit` '
                "(default 100, at most 500), `cursor` (the previous page's "
                "`next_cursor`), `order`. "
                "Protected like a local development server: a Host that is not "
                "loopback, an IP literal, a provider host or a listed one is refused "
                "(403, DNS rebinding); so are cross-site browser requests (Origin, "
                "Sec-Fetch-Site: 403) and state-changing requests with a form content "
                "type (415). When an admin token is set (serve --admin-token, "
                "$MOCKSERVER_ADMIN_TOKEN, [security] admin_token; required off "
                "loopback) every operation but the media and uploaded-file downloads "
                "and the upload PUT needs it (401)."
            ),
        },
        "security": [{}, {"bearer": []}, {"adminToken": []}],
        "servers": [{"url": server_url or "http://127.0.0.1:8080"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "the admin token, when one is set"},
                "adminToken": {"type": "apiKey", "in": "header", "name": "X-Mock-Admin-Token",
                               "description": "the admin token, when one is set"},
            },
        },
    }
