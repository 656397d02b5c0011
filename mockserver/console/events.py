"""``GET /_mock/events``: the console's live updates as server-sent events.

No cost while no page is open: nothing runs per provider request for the
console. Each open stream is one task that, every :data:`POLL_SECONDS`,
reads a few counters the stores keep anyway (the world's change counter,
the journal's newest sequence number, the webhook outbox's log and waiting
count, the scenario queue's change counter, a manual clock's time) and sends one
``change`` event naming what moved; the page then fetches the one page of
the list it shows. Bounded: at most :data:`MAX_STREAMS` streams at once (a
503 beyond, so a forgotten tab cannot pile up tasks), a ``: heartbeat``
comment every :data:`HEARTBEAT_SECONDS` so proxies and the browser keep the
connection, and every stream ends when its client leaves or the server
shuts down: :meth:`StreamHub.close`, which ``mockserver serve`` and the
served test mocks call before uvicorn waits (without a limit) for open
responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from starlette.types import Receive, Scope, Send

from mockserver.store.interface import StoreError

__all__ = ["HEARTBEAT_SECONDS", "MAX_STREAMS", "POLL_SECONDS", "EventStream", "StreamHub",
           "close_streams", "hub_of", "snapshot"]

#: Streams open at once at most; the next one is answered 503.
MAX_STREAMS = 8
#: How often a stream looks for changes.
POLL_SECONDS = 0.4
#: A comment line after this long without an event.
HEARTBEAT_SECONDS = 15.0


class StreamHub:
    """The open streams of one app: their count, and the switch that ends them all."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self.max_streams = max_streams
        self.open = 0
        self.served = 0
        self.closing = False

    def close(self) -> None:
        """End every open stream within :data:`POLL_SECONDS` and refuse new ones."""
        self.closing = True


def hub_of(app: Any) -> StreamHub:
    """The app's hub (made on first use; kept on ``app.state.console_streams``)."""
    hub: StreamHub | None = getattr(app.state, "console_streams", None)
    if hub is None:
        hub = StreamHub()
        app.state.console_streams = hub
    return hub


def close_streams(app: Any) -> None:
    """End the console streams of ``app``, if it is a mock app with any open."""
    hub = getattr(getattr(app, "state", None), "console_streams", None)
    if isinstance(hub, StreamHub):
        hub.close()


def snapshot(state: Any) -> dict[str, Any]:
    """The counters a change moves: O(1), read from the stores as they are.

    With a shared store they are the store's (one pipeline), so a page on any
    worker sees what every worker changed; this worker's journal entries are
    written first.
    """
    world, outbox = state.world, state.outbox
    store = getattr(world, "store", None)
    if store is not None:
        state.journal.flush()
        (jobs_made, jobs_ended, scheduled, first_due, requests, outbox_numbers, waiting,
         in_flight, attempts, scenarios_made, scenarios_queued, manual) = store.fleet_counters()
        return {
            "jobs": [world.changes, jobs_made, jobs_ended, scheduled, first_due],
            "requests": int(requests or 0),
            "webhooks": [outbox_numbers, waiting, in_flight, attempts],
            "scenarios": [state.scenarios.changes, scenarios_made, scenarios_queued],
            "clock": float(manual) if manual is not None and state.clock_kind == "manual"
            else None,
        }
    log = outbox.log
    return {
        "jobs": world.changes,
        "requests": state.journal.last_seq(),
        "webhooks": [len(log), id(log[-1]) if log else 0, outbox.waiting_count,
                     outbox.in_flight()],
        "scenarios": state.scenarios.changes,
        "clock": state.clock.now() if state.clock_kind == "manual" else None,
    }


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventStream:
    """The ASGI endpoint of ``GET /_mock/events`` (behind the admin guard)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        hub = hub_of(app)
        state = app.state.mock
        if hub.closing:
            await _refuse(send, "the server is shutting down")
            return
        if hub.open >= hub.max_streams:
            await _refuse(send, f"at most {hub.max_streams} console event streams are open at "
                                "once; close a console tab (or wait) and retry")
            return
        try:
            last = snapshot(state)
        except StoreError as error:  # the shared store is away: the page retries
            await _refuse(send, f"the mock's shared store is unavailable; retry shortly ({error})")
            return
        hub.open += 1
        hub.served += 1
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),
            ]})
            hello = {"snapshot": last, "poll_seconds": POLL_SECONDS,
                     "heartbeat_seconds": HEARTBEAT_SECONDS, "max_streams": hub.max_streams,
                     "clock_kind": state.clock_kind}
            await _chunk(send, b"retry: 2000\n\n" + _event("hello", hello))
            quiet_since = time.monotonic()
            while not hub.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), POLL_SECONDS)
                if gone.is_set():
                    return
                try:
                    state.tick()  # what the page shows is the store as a request would see it
                    now = snapshot(state)
                    clock_now = state.clock.now()
                except StoreError:
                    continue  # the shared store is away for now: look again next time
                changed = [name for name, value in now.items() if last.get(name) != value]
                if changed:
                    last = now
                    quiet_since = time.monotonic()
                    await _chunk(send, _event("change", {"changed": changed, "snapshot": now,
                                                         "clock_now": clock_now}))
                elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                    quiet_since = time.monotonic()
                    await _chunk(send, b": heartbeat\n\n")
            await send({"type": "http.response.body",
                        "body": _event("bye", {"reason": "server shutting down"}),
                        "more_body": False})
        except OSError:
            return  # the client went away mid-write
        finally:
            hub.open -= 1
            watcher.cancel()


async def _chunk(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"5")]})
    await send({"type": "http.response.body", "body": body})
