"""The baseline: a bare Starlette app serving static JSON on one create and one poll route.

It does what any ASGI app must (route, read the body, answer JSON) and nothing
the mock does (no auth, validation, job store, journal). The benchmark serves it
with the same server and settings as the mock, in the same run, so the ratio
mock/baseline says what the mock's own work costs.

    .venv/bin/python -m uvicorn --app-dir bench baseline_app:app --http httptools --loop uvloop
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: About the size and shape of an Eachlabs create / poll answer.
CREATE_BODY = json.dumps(
    {"status": "success", "message": "Prediction created successfully",
     "predictionID": "0b6a3b52-6f1e-4a7c-9d3e-5f0e2b9a1c77"},
    separators=(",", ":"),
).encode()
POLL_BODY = json.dumps(
    {"id": "0b6a3b52-6f1e-4a7c-9d3e-5f0e2b9a1c77", "status": "processing", "input": {
        "first_frame": "https://images.example.com/a.png", "prompt": "bench"},
     "output": None, "logs": None, "metrics": {"predict_time": None, "cost": None},
     "urls": {"cancel": "http://127.0.0.1/v1/prediction/x/cancel"}},
    separators=(",", ":"),
).encode()


async def create(request: Request) -> Response:
    await request.body()
    return Response(CREATE_BODY, media_type="application/json")


async def poll(request: Request) -> Response:
    return Response(POLL_BODY, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[
    Route("/create", create, methods=["POST"]),
    Route("/poll/{id}", poll, methods=["GET"]),
    Route("/_mock/health", health, methods=["GET"]),
])
