"""Admin endpoints the console reads: a job's timeline and a journal entry's detail.

``GET /_mock/jobs/{job_id}/timeline`` (:mod:`mockserver.http.timeline`) and
``GET /_mock/requests/{seq}`` (one journal entry, with its near-miss,
:mod:`mockserver.http.nearmiss`; the entry shape is admin.py's
:func:`~mockserver.http.admin.journal_view`). Their OpenAPI entries are in the admin
document's data (``admin_openapi.yaml``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.http import admin
from mockserver.http.admin import journal_view
from mockserver.http.timeline import job_timeline

__all__ = ["insight_routes"]


def insight_routes() -> list[BaseRoute]:
    """The routes, relative to ``/_mock`` (the app adds them beside admin.py's)."""
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

