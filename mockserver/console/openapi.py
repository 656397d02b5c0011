"""The admin OpenAPI entries of the console's endpoints (merged by ``admin_openapi``)."""

from __future__ import annotations

from typing import Any

__all__ = ["CONSOLE_OPENAPI_PATHS"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


def _html(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"text/html": {"schema": {"type": "string"}}}}


_FILE = {"get": {
    "summary": "The console's script or style (console.js, console.css)",
    "operationId": "consoleFile",
    "security": [{}],
    "parameters": [{"name": "name", "in": "path", "required": True,
                    "schema": {"enum": ["index.html", "console.js", "console.css"]}}],
    "responses": {"200": {"description": "the file",
                          "content": {"text/javascript": {"schema": {"type": "string"}},
                                      "text/css": {"schema": {"type": "string"}},
                                      "text/html": {"schema": {"type": "string"}}}},
                  "404": _error("no such console file")},
}}

_ACCOUNT_VIEW = {
    "type": "object",
    "description": "the key as GET /_mock/accounts lists it (key and secret masked), plus "
                   "`webhook_secret_full` and the `effective_limits` per provider",
    "properties": {
        "key": {"type": "string"}, "fingerprint": {"type": "string"},
        "webhook_secret": {"type": "string"}, "webhook_secret_full": {"type": "string"},
        "valid": {"type": "boolean"}, "limits": {"type": "object"},
        "accounts": {"type": "object"}, "effective_limits": {"type": "object"},
    },
}
_FINGERPRINT = {"name": "fingerprint", "in": "path", "required": True,
                "description": "the key's `fingerprint` from GET /_mock/accounts",
                "schema": {"type": "string"}}

CONSOLE_OPENAPI_PATHS: dict[str, Any] = {
    "/_mock/ui": {"get": {
        "summary": "The web console (HTML; no admin token needed for the page itself: it asks "
                   "for the token and sends it with its own requests)",
        "operationId": "console",
        "security": [{}],
        "responses": {"200": _html("the console page")},
    }},
    "/_mock/ui/": {"get": {
        "summary": "The web console (same as /_mock/ui)",
        "operationId": "consoleSlash",
        "security": [{}],
        "responses": {"200": _html("the console page")},
    }},
    "/_mock/ui/{name}": _FILE,
    "/_mock/events": {"get": {
        "summary": "Live changes as server-sent events (the console follows it)",
        "description": (
            "`text/event-stream`: a `hello` event with the counters, then a `change` event "
            "`{changed: [jobs|requests|webhooks|scenarios|clock], snapshot, clock_now}` "
            "within 0.4 s of a change, a `: heartbeat` comment after 15 s without one, and "
            "a `bye` event when the server shuts down. At most 8 streams at once (503 "
            "beyond, with Retry-After). Nothing runs for the stream per provider request."),
        "operationId": "events",
        "responses": {
            "200": {"description": "the stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "503": _error("8 streams are already open, or the server is shutting down"),
        },
    }},
    "/_mock/trigger": {
        "get": {
            "summary": "What a trigger may name: providers, their models, scenarios",
            "operationId": "triggerOptions",
            "responses": {"200": _json({"type": "object", "properties": {
                "providers": {"type": "array", "items": {"type": "string"}},
                "models": {"type": "object", "additionalProperties": {
                    "type": "array", "items": {"type": "string"}}},
                "scenarios": {"type": "array", "items": {"type": "string"}},
            }}, "the choices")},
        },
        "post": {
            "summary": "Start a job like `stripe trigger`: a real create of the provider sent "
                       "through the mock's own route",
            "description": (
                "Builds the provider's create request (auth header, path and body from the "
                "model contract's example, required inputs filled, `input` merged in; "
                "`Prefer: scenario=` for the scenario; the webhook URL where the provider "
                "registers it) and hands it to the provider route in process: validation, "
                "rate limit, price, scenario and journal apply as for any client."),
            "operationId": "trigger",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["provider"], "additionalProperties": False,
                "properties": {
                    "provider": {"type": "string"},
                    "model": {"type": "string",
                              "description": "a model id; optional when the provider has one"},
                    "scenario": {"type": "string", "description": "a scenario name"},
                    "webhook_url": {"type": "string"},
                    "key": {"type": "string", "default": "console"},
                    "input": {"type": "object", "description": "model inputs to set"},
                },
            }}}},
            "responses": {
                "201": _json({"type": "object", "required": ["job", "request", "response"],
                              "properties": {"job": {"$ref": "#/components/schemas/Job"},
                                             "request": {"type": "object"},
                                             "response": {"type": "object"}}},
                             "the job was created; the request sent and the provider's answer"),
                "400": _error("unknown provider, model or field"),
                "422": _json({"type": "object", "required": ["error", "response"],
                              "properties": {"error": {"type": "string"},
                                             "job": {"type": "null"},
                                             "request": {"type": "object"},
                                             "response": {"type": "object"}}},
                             "the provider refused the create (402, 429, 400...); its answer "
                             "is in `response`"),
            },
        },
    },
    "/_mock/accounts/by-fingerprint/{fingerprint}": {
        "get": {
            "summary": "One key named by its fingerprint (the console's view of a key)",
            "operationId": "getAccountByFingerprint",
            "parameters": [_FINGERPRINT],
            "responses": {"200": _json(_ACCOUNT_VIEW, "the key"),
                          "404": _error("no key with that fingerprint")},
        },
        "put": {
            "summary": "Change a key named by its fingerprint (the body of PUT "
                       "/_mock/accounts/{key})",
            "operationId": "putAccountByFingerprint",
            "parameters": [_FINGERPRINT],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object"}}}},
            "responses": {"200": _json(_ACCOUNT_VIEW, "the key after the change"),
                          "400": _error("a value out of range or an unknown field"),
                          "404": _error("no key with that fingerprint")},
        },
    },
}
