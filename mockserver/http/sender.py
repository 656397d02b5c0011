"""The webhook sender and the world's ticker: one asyncio task per app.

The outbox (pure) decides what is due; this task does the I/O. Each pass it

1. ticks the world, so with a real clock a job finishes (and its webhook is
   enqueued) at its planned time even when nobody polls;
2. takes the deliveries due now and POSTs each in its own task, so a slow
   receiver delays nobody — neither other deliveries nor request handling;
3. sleeps until the next job transition or delivery is due, converted from
   mock seconds to wall seconds for a sped-up real clock, or until woken
   (a delivery enqueued, the clock advanced, an attempt finished).

Signature timestamps (WaveSpeed ``webhook-timestamp``, Apikley
``X-Webhook-Timestamp``) read :attr:`WebhookSender.signature_clock`, the wall
clock unless configured otherwise: a receiver checks them against its own
clock (WaveSpeed: within 300 s), which the mock clock, sped up or manual,
does not follow. Attempt times in the admin API stay on the mock clock.

With a manual clock nothing becomes due by itself, so it sleeps until woken:
no polling loop, no busy wait. Every attempt is reported back with
:meth:`Outbox.record`, which schedules retries on the mock clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import logging
import socket
import time
from collections.abc import Callable

import httpx

from mockserver.domain.clock import Clock, is_manual
from mockserver.domain.webhook_targets import WebhookTargetPolicy
from mockserver.domain.webhooks import Attempt, Delivery, Outbox, Outcome
from mockserver.domain.world import World
from mockserver.http.records import UnhandledError
from mockserver.redact import redact_url
from mockserver.store.interface import StoreUnavailable

__all__ = ["WebhookSender"]

logger = logging.getLogger("mockserver")

#: Shortest sleep between passes; timers may fire a hair early, and this keeps
#: such a wake-up from turning into a tight loop.
MIN_SLEEP_SECONDS = 0.001
#: Pause after a pass failed unexpectedly (a bug), so a bug cannot spin the CPU.
ERROR_PAUSE_SECONDS = 0.1
#: Wall seconds between passes while the shared store cannot be reached.
STORE_PAUSE_SECONDS = 0.5
#: Deliveries POSTed at once; the rest wait their turn (still counted as in flight).
DEFAULT_CONCURRENCY = 64
#: How long stop() delivers what is in flight or due before cancelling the rest
#: (``[webhooks] drain_seconds`` overrides it).
STOP_GRACE_SECONDS = 5.0
#: Ids listed in the shutdown log line at most (then "and N more").
LEFT_IDS_LOGGED = 20

ErrorSink = Callable[["UnhandledError"], None]


class WebhookSender:
    """Delivers the outbox over HTTP and keeps the world ticking, on one event loop."""

    def __init__(
        self,
        world: World,
        outbox: Outbox,
        clock: Clock,
        *,
        on_error: ErrorSink | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        transport: httpx.AsyncBaseTransport | None = None,
        target_policy: WebhookTargetPolicy | None = None,
        drain_seconds: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.world = world
        self.outbox = outbox
        self.clock = clock
        self.on_error = on_error
        #: Where webhooks may go, checked again before each attempt (None: anywhere).
        self.target_policy = target_policy
        #: Wall seconds stop() keeps delivering what is in flight or due.
        self.drain_seconds = drain_seconds
        self._concurrency = concurrency
        self._transport = transport
        #: Unix seconds that signature timestamps carry: wall time by default.
        self.signature_clock: Callable[[], float] = time.time
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        #: Set after every pass and every finished attempt: what idle() waits on.
        self._progress: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._in_flight: dict[asyncio.Task[None], Delivery] = {}
        #: Bumped by reset: attempts started before it are not recorded.
        self._generation = 0
        #: Mock time the loop plans to look again (None: only when woken).
        self._next_look: float | None = None
        #: Wall seconds the loop sleeps at most (a shared store: other workers enqueue
        #: and advance the clock without waking this one). None: until woken.
        self.max_sleep: float | None = None
        #: Whether the last pass met an unreachable store (logged once per outage).
        self._store_down = False
        outbox.watch(lambda _delivery: self.wake())

    # --- lifecycle -------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start on the running event loop (the app lifespan calls this).

        Starting again on the same loop does nothing. If the loop it last ran on
        was closed without a stop (an app driven without its lifespan), it
        starts afresh here; if that loop is still alive it refuses, because one
        world must be ticked by one loop.
        """
        loop = asyncio.get_running_loop()
        if self.running and self._loop is loop:
            return
        if self.running and self._loop is not None and not self._loop.is_closed():
            raise RuntimeError("the webhook sender already runs on another event loop")
        self._loop = loop
        self._event = asyncio.Event()
        self._progress = asyncio.Event()
        self._semaphore = asyncio.Semaphore(self._concurrency)
        self._in_flight = {}
        self._client = httpx.AsyncClient(
            # Loopback receivers must not be sent through a proxy from the environment.
            trust_env=False,
            follow_redirects=False,
            transport=self._transport,
        )
        # A context of its own: a request's pinned store time must not leak into it.
        self._task = loop.create_task(
            self._run(), name="mockserver-webhook-sender", context=contextvars.Context()
        )

    def ensure_started(self) -> None:
        """Start if not running (for apps driven without lifespan, e.g. by ASGITransport)."""
        if self.running and self._loop is not None and not self._loop.is_closed():
            return
        self.start()

    async def stop(self, grace: float | None = None) -> None:
        """Stop the task after draining: deliver what is in flight or due, for a while.

        For up to ``grace`` wall seconds (default :attr:`drain_seconds`) due
        deliveries are still sent and attempts in flight may finish; what is
        left then is cancelled (back to pending, never recorded as failed)
        and logged, one line with the count and the ids, so a shutdown never
        loses a webhook in silence.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        grace = self.drain_seconds if grace is None else grace
        if self._client is not None:
            await self._drain(grace)
        if self._in_flight:
            pending = set(self._in_flight)
            self._cancel(pending)
            await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._log_left()

    async def _drain(self, grace: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while True:
            with contextlib.suppress(Exception):  # a bug must not block the shutdown
                self._start_due()
            remaining = deadline - loop.time()
            if not self._in_flight or remaining <= 0:
                return
            await asyncio.wait(
                set(self._in_flight), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )

    def _log_left(self) -> None:
        try:
            left = self.outbox.waiting()
        except StoreUnavailable as error:
            logger.warning("shutdown: the shared store is unavailable (%s); its pending "
                           "webhook deliveries stay there for the next worker", error)
            return
        if not left:
            return
        ids = ", ".join(d.id for d in left[:LEFT_IDS_LOGGED])
        more = f" and {len(left) - LEFT_IDS_LOGGED} more" if len(left) > LEFT_IDS_LOGGED else ""
        logger.warning(
            "shutdown: %d webhook deliveries left undelivered (pending retries or not "
            "finished within the %g s drain): %s%s",
            len(left), self.drain_seconds, ids, more,
        )

    def cancel_in_flight(self) -> None:
        """Abandon every attempt in flight without recording it (admin reset)."""
        self._generation += 1
        loop = self._loop
        if loop is None or loop.is_closed() or not self._in_flight:
            return
        if _running_loop() is loop:
            self._cancel(set(self._in_flight))
        else:
            loop.call_soon_threadsafe(lambda: self._cancel(set(self._in_flight)))

    def _cancel(self, tasks: set[asyncio.Task[None]]) -> None:
        for task in tasks:
            delivery = self._in_flight.pop(task, None)
            if delivery is not None:
                # Outbox.due marked it in flight; no attempt was recorded, so it is
                # simply pending again (not a failed attempt).
                self.outbox.requeue(delivery)
            task.cancel()

    def wake(self) -> None:
        """Make the task look again now; safe to call from any thread."""
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        if _running_loop() is loop:
            event.set()
            return
        # RuntimeError: the loop closed between the check and the call.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    def notice_schedule(self) -> None:
        """Wake the loop if the world now has a transition due before the loop's next look.

        The request path calls this after each request: a create schedules a
        job whose end may be sooner than anything the loop is sleeping for,
        and with a real clock nobody else would wake it in time. Cheap (O(1))
        when nothing changed, so it costs a request nothing.
        """
        if is_manual(self.clock) or self.max_sleep is not None:
            # Manual: nothing becomes due without an advance, which wakes the loop.
            # A shared store: the loop looks every max_sleep anyway, and asking the
            # store here would cost every request a round trip.
            return
        due = self.world.next_due()
        if due is not None and (self._next_look is None or due < self._next_look):
            self._next_look = due
            self.wake()

    # --- draining (tests) --------------------------------------------------
    def quiet(self) -> bool:
        """Nothing in flight and nothing due now (deliveries or job transitions).

        Deliveries waiting for a later retry time do not count: with a manual
        clock they wait until the clock is advanced.
        """
        if self._in_flight or self.outbox.in_flight():
            return False
        now = self.clock.now()
        pending = self.outbox.next_due()  # O(1): no scan of every delivery kept
        if pending is not None and pending <= now:
            return False
        due = self.world.next_due()
        return due is None or due > now

    async def idle(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` wall seconds) until :meth:`quiet`; True if it got there."""
        if not self.running:
            return self.quiet()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        progress = self._progress
        assert progress is not None
        self.wake()  # one pass now; later ones come from the loop's own wake-ups
        while not self.quiet():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            # No await between the check above and clear(): a pass or a finished
            # attempt after this point sets the event, so none is missed.
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), remaining)
            except TimeoutError:
                return self.quiet()
        return True

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """:meth:`idle` for code on another thread (a test beside a served app)."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self.running:
            return self.quiet()
        if _running_loop() is loop:
            raise RuntimeError("on the sender's own loop, use `await sender.idle()`")
        future = asyncio.run_coroutine_threadsafe(self.idle(timeout), loop)
        return future.result(timeout + 5.0)

    # --- the loop ------------------------------------------------------------
    async def _run(self) -> None:
        assert self._event is not None
        while True:
            # Clear first: a wake-up that arrives during the pass is kept.
            self._event.clear()
            pause: float | None
            try:
                self._pass()
                pause = self._sleep_seconds()
                if self._store_down:
                    self._store_down = False
                    logger.warning("webhook sender: the shared store is reachable again")
            except StoreUnavailable as error:
                if not self._store_down:
                    self._store_down = True
                    logger.warning("webhook sender: the shared store is unavailable (%s); "
                                   "retrying every %g s", error, STORE_PAUSE_SECONDS)
                pause = STORE_PAUSE_SECONDS
            except Exception as error:  # a bug: record it, never die
                self._report(error, "sender")
                pause = ERROR_PAUSE_SECONDS
            if self._progress is not None:
                self._progress.set()
            if pause is None:
                await self._event.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), pause)

    def _pass(self) -> None:
        self.world.tick()
        self._start_due()

    def _start_due(self) -> None:
        """Start the due deliveries, at most ``concurrency`` in flight (the rest wait pending).

        Taking every due delivery at once made one task each: 40,000 tasks in
        one pass after a receiver came back.
        """
        room = self._concurrency - len(self._in_flight)
        if room <= 0:
            return
        for delivery in self.outbox.due(self.clock.now(), room):
            task = asyncio.get_running_loop().create_task(
                self._deliver(delivery, self._generation), name=f"webhook-{delivery.id}"
            )
            self._in_flight[task] = delivery
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            assert error is not None
            if isinstance(error, StoreUnavailable):
                # The attempt was made but not recorded: its lease expires and a worker
                # tries again (the receiver may see it twice, as after a provider outage).
                logger.warning("webhook sender: an attempt could not be recorded: %s", error)
            else:
                self._report(error, "sender")
        if self._progress is not None:
            self._progress.set()
        self.wake()

    def _sleep_seconds(self) -> float | None:
        """Wall seconds until something is due; None: until woken."""
        # At capacity, a finished attempt wakes the loop: do not spin on due deliveries.
        full = len(self._in_flight) >= self._concurrency
        deliveries_due = None if full else self.outbox.next_due()
        candidates = [t for t in (self.world.next_due(), deliveries_due) if t is not None]
        self._next_look = min(candidates) if candidates else None
        if not candidates or is_manual(self.clock):
            return self.max_sleep
        mock_wait = max(0.0, min(candidates) - self.clock.now())
        wall_seconds = getattr(self.clock, "wall_seconds", None)
        wall = float(wall_seconds(mock_wait)) if wall_seconds is not None else mock_wait
        if self.max_sleep is not None:
            wall = min(wall, self.max_sleep)
        return max(MIN_SLEEP_SECONDS, wall)

    async def _deliver(self, delivery: Delivery, generation: int) -> None:
        assert self._semaphore is not None and self._client is not None
        async with self._semaphore:
            number = len(delivery.attempts) + 1
            at = self.clock.now()
            wall = time.time()
            signed_at: int | None = None
            headers = {"content-type": "application/json", "user-agent": "genmock-webhooks"}
            status: int | None = None
            error: str | None = None
            started = time.perf_counter()
            try:
                headers.update({k.lower(): v for k, v in delivery.headers.items()})
                if delivery.signer is not None:
                    signed_at = int(self.signature_clock())
                    headers.update({k.lower(): v for k, v in delivery.signer(signed_at).items()})
                simulated = _simulated(delivery)
                if simulated is not None:
                    raise simulated
                refused = await self._target_problem(delivery)
                if refused is not None:
                    raise _TargetRefused(refused)
                response = await self._client.post(
                    delivery.url,
                    content=delivery.body,
                    headers=headers,
                    timeout=delivery.policy.timeout_seconds,
                )
                status = response.status_code
                outcome = Outcome.DELIVERED if 200 <= status < 300 else Outcome.REJECTED
            except httpx.TimeoutException as failure:
                outcome = Outcome.TIMEOUT
                error = str(failure) if "simulated" in str(failure) else (
                    f"no answer within {delivery.policy.timeout_seconds:g} s"
                )
            except (httpx.ConnectError, httpx.ReadError, httpx.WriteError) as failure:
                outcome = Outcome.REFUSED
                error = f"{type(failure).__name__}: {failure}" if str(failure) else (
                    type(failure).__name__
                )
            except (httpx.HTTPError, httpx.InvalidURL) as failure:
                outcome = Outcome.ERROR
                error = f"{type(failure).__name__}: {failure}"
            except _TargetRefused as failure:
                outcome = Outcome.ERROR
                error = f"not sent: {failure}"
            except Exception as failure:  # a signer or a renderer bug: keep the delivery
                outcome = Outcome.ERROR
                error = f"{type(failure).__name__}: {failure}"
                self._report(failure, "sender")
            duration_ms = (time.perf_counter() - started) * 1000
            if generation != self._generation:
                return  # the world was reset meanwhile; this delivery is gone
            attempt = Attempt(delivery.id, number, at, outcome, status, error, duration_ms,
                              wall=wall, signed_at=signed_at)
            self.outbox.record(delivery, attempt, self.clock.now())
            if (
                outcome is Outcome.DELIVERED
                and "duplicate" in delivery.effects
                and len(delivery.attempts) == number  # once: not after the duplicate itself
            ):
                # Scenario webhook_duplicate: the receiver gets the final payload twice.
                await self._duplicate(delivery, headers, signed_at)
            logger.info(
                "webhook %s %s attempt %d/%d -> %s%s (%.0f ms)%s",
                delivery.provider,
                redact_url(delivery.url),
                number,
                delivery.policy.attempts,
                outcome,
                f" {status}" if status is not None else "",
                duration_ms,
                f" [{error}]" if error else "",
            )

    async def _duplicate(
        self, delivery: Delivery, headers: dict[str, str], signed_at: int | None = None
    ) -> None:
        assert self._client is not None
        at, wall = self.clock.now(), time.time()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(
                delivery.url, content=delivery.body, headers=headers,
                timeout=delivery.policy.timeout_seconds,
            )
            status = response.status_code
            outcome = Outcome.DELIVERED if 200 <= status < 300 else Outcome.REJECTED
        except (httpx.HTTPError, httpx.InvalidURL) as failure:
            outcome, error = Outcome.ERROR, f"{type(failure).__name__}: {failure}"
        duration_ms = (time.perf_counter() - started) * 1000
        attempt = Attempt(
            delivery.id, len(delivery.attempts) + 1, at, outcome, status,
            error or "duplicate sent by scenario webhook_duplicate", duration_ms, wall=wall,
            signed_at=signed_at,  # the same headers, signature included
        )
        # Recorded in the log and on the delivery, which stays delivered.
        self.outbox.note_attempt(delivery, attempt)

    async def _target_problem(self, delivery: Delivery) -> str | None:
        """Why the delivery's URL may not be reached now, or None (checked before each attempt).

        The URL as written is checked again, then every address its host
        resolves to. A custom transport (the testing harness's router, which
        captures everything but what a test passes through) sees no DNS
        lookup: it decides itself what reaches the network.
        """
        policy = self.target_policy
        if policy is None:
            return None
        problem = policy.url_problem(delivery.url)
        if problem is not None or self._transport is not None:
            return problem
        try:
            parts = httpx.URL(delivery.url)
        except (httpx.InvalidURL, ValueError):
            return None  # the POST reports it
        host = parts.host.rstrip(".").lower()
        if _is_ip(host):
            return None  # checked as written above
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM),
                delivery.policy.timeout_seconds,
            )
        except (OSError, TimeoutError):
            return None  # unresolvable: the POST fails and reports it
        for info in infos:
            problem = policy.address_allowed(host, str(info[4][0]))
            if problem is not None:
                return f"{host} resolves to {info[4][0]}: {problem}"
        return None

    def _report(self, error: BaseException, where: str) -> None:
        record = UnhandledError.capture(error, where)
        if self.on_error is not None:
            self.on_error(record)
        else:
            logger.error("unhandled error in the webhook sender:\n%s", record.traceback)


def _simulated(delivery: Delivery) -> httpx.HTTPError | None:
    """The failure a scenario imposes on every attempt, without touching the network."""
    if "refused" in delivery.effects:
        return httpx.ConnectError("connection refused (simulated by scenario webhook_refused)")
    if "timeout" in delivery.effects:
        return httpx.ReadTimeout("timed out (simulated by scenario webhook_timeout)")
    return None


class _TargetRefused(Exception):
    """The webhook target rule refused the delivery's URL or resolved address."""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
