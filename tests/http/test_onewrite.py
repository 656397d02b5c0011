"""One socket write per response: the write-combining transport, alone and served over loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from mockserver.http.onewrite import OneWriteHttpToolsProtocol, Outbox, WriteCombiningTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class FakeTransport:
    """Records what reaches the socket."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.buffered = 0

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, data: Any) -> None:
        self.writes.append(b"".join(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


Combiner = tuple[WriteCombiningTransport, FakeTransport, asyncio.AbstractEventLoop]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def combiner(loop: asyncio.AbstractEventLoop) -> Combiner:
    real = FakeTransport()
    return WriteCombiningTransport(real, Outbox(loop)), real, loop  # type: ignore[arg-type]


def _turn(loop: asyncio.AbstractEventLoop) -> None:
    """Run the callbacks scheduled so far (one loop turn)."""
    loop.run_until_complete(asyncio.sleep(0))


def test_a_head_and_its_body_go_out_in_one_write_at_the_end_of_the_turn(combiner: Any) -> None:
    transport, real, loop = combiner
    transport.write(HEAD)
    transport.write(b"ok")
    assert real.writes == []
    _turn(loop)
    assert real.writes == [HEAD + b"ok"]
    _turn(loop)  # nothing more is held
    assert real.writes == [HEAD + b"ok"]


def test_a_head_without_a_body_goes_out_at_the_end_of_the_loop_turn(combiner: Any) -> None:
    transport, real, loop = combiner
    transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert real.writes == []
    _turn(loop)
    assert real.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"]


def test_every_connection_of_a_turn_is_flushed_by_one_callback(
    loop: asyncio.AbstractEventLoop,
) -> None:
    scheduled: list[object] = []

    class CountingLoop:
        def call_soon(self, callback: Callable[[], None]) -> object:
            scheduled.append(callback)
            return loop.call_soon(callback)

    outbox = Outbox(CountingLoop())  # type: ignore[arg-type]
    reals = [FakeTransport() for _ in range(5)]
    transports = [WriteCombiningTransport(r, outbox) for r in reals]  # type: ignore[arg-type]
    for number, transport in enumerate(transports):
        transport.write(HEAD)
        transport.write(b"%d" % number)
    assert len(scheduled) == 1  # one flush for the turn, not one per connection or write
    assert all(r.writes == [] for r in reals)
    _turn(loop)
    assert [r.writes for r in reals] == [[HEAD + b"%d" % n] for n in range(5)]
    transports[0].write(b"next turn")
    assert len(scheduled) == 2
    _turn(loop)
    assert reals[0].writes[-1] == b"next turn"


def test_a_request_answered_alone_is_not_held_but_its_head_still_waits_for_its_body(
    loop: asyncio.AbstractEventLoop,
) -> None:
    in_flight: set[str] = {"this request"}
    real = FakeTransport()
    transport = WriteCombiningTransport(real, Outbox(loop, in_flight))  # type: ignore[arg-type]
    transport.write(HEAD)
    assert real.writes == []
    transport.write(b"ok")
    assert real.writes == [HEAD + b"ok"]  # at once: no other answer could join it
    in_flight.add("another request")
    transport.write(HEAD)
    transport.write(b"ok")
    assert real.writes == [HEAD + b"ok"]  # two in flight: held for the batch
    _turn(loop)
    assert real.writes == [HEAD + b"ok", HEAD + b"ok"]


def test_writes_of_any_buffer_type_keep_their_order_and_are_copied(combiner: Any) -> None:
    transport, real, loop = combiner
    mutable = bytearray(b"chunk-2")
    transport.write(b"chunk-1")
    transport.write(mutable)
    transport.write(memoryview(b"chunk-3"))
    mutable[:] = b"changed"  # the caller may reuse its buffer once write returns
    _turn(loop)
    assert real.writes == [b"chunk-1chunk-2chunk-3"]


def test_a_large_write_goes_at_once_after_what_is_held_without_a_join(combiner: Any) -> None:
    transport, real, loop = combiner
    calls: list[tuple[bytes, ...]] = []
    real.writelines = lambda data: calls.append(tuple(data))
    body = b"x" * 200_000
    transport.write(HEAD)
    transport.write(body)
    assert calls == [(HEAD, body)]
    transport.write(body)  # nothing held: straight through
    assert real.writes == [body]
    _turn(loop)
    assert real.writes == [body]


def test_close_and_eof_send_what_is_held_first(
    combiner: Any, loop: asyncio.AbstractEventLoop,
) -> None:
    transport, real, _ = combiner
    transport.write(HEAD)
    transport.close()
    assert real.writes == [HEAD] and real.closed
    second = WriteCombiningTransport(FakeTransport(), Outbox(loop))  # type: ignore[arg-type]
    second.write(HEAD)
    second.write_eof()
    assert second._transport.writes == [HEAD, b"<eof>"]  # type: ignore[attr-defined]
    _turn(loop)  # the scheduled flushes find nothing held
    assert real.writes == [HEAD]


def test_a_connection_that_fails_to_write_is_aborted_and_the_others_still_get_theirs(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(FakeTransport):
        aborted = False

        def write(self, data: bytes) -> None:
            raise RuntimeError("the handler is closed")

        def abort(self) -> None:
            self.aborted = True

    outbox = Outbox(loop)
    broken, healthy = Broken(), FakeTransport()
    for real in (broken, healthy):
        WriteCombiningTransport(real, outbox).write(HEAD)  # type: ignore[arg-type]
    _turn(loop)
    assert broken.aborted and healthy.writes == [HEAD]
    assert "could not send a response" in caplog.text


def test_writes_held_when_the_peer_went_away_are_dropped(combiner: Any) -> None:
    transport, real, loop = combiner
    transport.write(HEAD)
    real.closed = True
    _turn(loop)
    assert real.writes == []


def test_the_buffer_size_counts_held_writes_and_the_rest_is_the_transports(
    combiner: Any,
) -> None:
    transport, real, _ = combiner
    real.buffered = 10
    assert transport.get_write_buffer_size() == 10
    transport.write(HEAD)
    transport.write(b"ok")
    assert transport.get_write_buffer_size() == 10 + len(HEAD) + 2
    assert transport.get_extra_info("peername") == "info:peername"
    assert transport.is_closing() is False


# --- served over loopback --------------------------------------------------------------------

class CountingTransport:
    """Wraps the socket's transport and counts the writes that reach it."""

    def __init__(self, transport: asyncio.Transport, counts: list[int]) -> None:
        self._transport = transport
        self._counts = counts

    def write(self, data: bytes) -> None:
        self._counts.append(1)
        self._transport.write(data)

    def writelines(self, data: Any) -> None:
        self._counts.append(1)
        self._transport.writelines(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _serve_counting(app: Starlette) -> tuple[str, list[int], Callable[[], None]]:
    counts: list[int] = []

    class Counting(OneWriteHttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CountingTransport(transport, counts))  # type: ignore[arg-type]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, http=Counting, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()

    return f"http://127.0.0.1:{port}", counts, stop


@pytest.fixture
def counted(app: Starlette) -> Iterator[tuple[str, list[int]]]:
    base, counts, stop = _serve_counting(app)
    yield base, counts
    stop()


CREATE = {"model": "wan-v2-2-a14b-image-to-video-turbo",
          "input": {"image_url": "https://images.example.com/a.jpg", "prompt": "one write"}}


def test_every_kind_of_answer_is_one_write_and_arrives_whole(
    counted: tuple[str, list[int]],
) -> None:
    base, counts = counted
    with httpx.Client(base_url=base, timeout=10) as client:
        cases: list[tuple[str, Callable[[], httpx.Response], int]] = [
            ("health", lambda: client.get("/_mock/health"), 200),
            ("create", lambda: client.post("/eachlabs/v1/prediction/", json=CREATE,
                                           headers={"X-API-Key": "sk-test"}), 200),
            ("400", lambda: client.post("/eachlabs/v1/prediction/", content=b"{",
                                        headers={"X-API-Key": "sk-test",
                                                 "Content-Type": "application/json"}), 400),
            ("401", lambda: client.get("/eachlabs/v1/prediction/x"), 401),
            ("404", lambda: client.get("/nowhere"), 404),
            ("media", lambda: client.get("/_mock/media/a.mp4"), 200),
            ("range", lambda: client.get("/_mock/media/a.mp4", headers={"Range": "bytes=0-9"}),
             206),
            ("head", lambda: client.head("/_mock/media/a.mp4"), 200),
        ]
        for name, send, status in cases:
            before = len(counts)
            reply = send()
            assert reply.status_code == status, (name, reply.text)
            assert len(counts) - before == 1, f"{name}: {len(counts) - before} writes"
            if name == "range":
                assert len(reply.content) == 10
            elif name == "head":
                assert reply.content == b"" and int(reply.headers["content-length"]) > 1000
            else:
                assert len(reply.content) == int(reply.headers["content-length"])
        created = client.post("/eachlabs/v1/prediction/", json=CREATE,
                              headers={"X-API-Key": "sk-test"}).json()
        poll = client.get(f"/eachlabs/v1/prediction/{created['predictionID']}",
                          headers={"X-API-Key": "sk-test"})
        assert poll.status_code == 200 and poll.json()["id"] == created["predictionID"]


def _read_response(stream: Any, *, head_only: bool = False) -> tuple[bytes, bytes]:
    """(head, body) of one response with a Content-Length, read from a buffered socket file."""
    lines = []
    while (line := stream.readline()) not in (b"\r\n", b""):
        lines.append(line.rstrip(b"\r\n"))
    assert lines, "connection closed before a response"
    length = next(int(line.split(b":")[1]) for line in lines
                  if line.lower().startswith(b"content-length:"))
    body = b"" if head_only else stream.read(length)
    assert len(body) == (0 if head_only else length)
    return b"\r\n".join(lines), body


def test_expect_100_continue_is_answered_before_the_body_is_sent(served: Any) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    body = json.dumps(CREATE).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /eachlabs/v1/prediction/ HTTP/1.1\r\nHost: x\r\nX-API-Key: sk-test\r\n"
                     b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            chunk = sock.recv(1)
            assert chunk, "closed before 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        head, answer = _read_response(sock.makefile("rb"))
        assert head.startswith(b"HTTP/1.1 200")
        assert "predictionID" in json.loads(answer)


def test_pipelined_requests_get_their_answers_in_order(served: Any) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
                     b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"HEAD /_mock/media/a.mp4 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /_mock/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        stream = sock.makefile("rb")
        first_head, first = _read_response(stream)
        second_head, _ = _read_response(stream)
        assert first_head.startswith(b"HTTP/1.1 200") and json.loads(first)["status"] == "ok"
        assert second_head.startswith(b"HTTP/1.1 404")
        third_head, _ = _read_response(stream, head_only=True)
        assert third_head.startswith(b"HTTP/1.1 200")
        fourth_head, fourth = _read_response(stream)
        assert fourth_head.startswith(b"HTTP/1.1 200") and json.loads(fourth)["status"] == "ok"


def test_an_http_1_0_answer_arrives_whole_before_the_close(served: Any) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /_mock/media/a.mp4 HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    assert head.startswith(b"HTTP/1.1 200") and len(body) == length > 1000


def test_a_streamed_chunk_arrives_while_the_app_still_waits_to_send_the_next() -> None:
    # The app sends chunk one, then waits until a second request releases it:
    # if held writes waited for the response's end, the client would never
    # see chunk one and never send the release (the test would time out).
    from starlette.responses import PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    released = asyncio.Event()

    async def chunks() -> Any:
        yield b"first-chunk"
        await asyncio.wait_for(released.wait(), 10)
        yield b"second-chunk"

    async def stream(request: Any) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    async def release(request: Any) -> PlainTextResponse:
        released.set()
        return PlainTextResponse("released")

    base, _, stop = _serve_counting(Starlette(routes=[Route("/stream", stream),
                                                      Route("/release", release)]))
    try:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"first-chunk" not in data:
                chunk = sock.recv(65536)
                assert chunk, "closed before the first chunk"
                data += chunk
            assert b"second-chunk" not in data
            assert httpx.get(f"{base}/release", timeout=10).text == "released"
            while not data.endswith(b"0\r\n\r\n"):
                chunk = sock.recv(65536)
                assert chunk, "closed before the end of the stream"
                data += chunk
        assert b"second-chunk" in data
    finally:
        stop()


def test_answers_ready_in_the_same_turn_leave_in_one_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # While /block holds the server's loop, eight keep-alive clients send a
    # request; when the loop runs again it reads all eight in one turn, and
    # their answers must go out together, not one flush per answer.
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    batches: list[int] = []
    original = Outbox.flush

    def counting_flush(self: Outbox) -> None:
        batches.append(sum(1 for transport in self._pending if transport._held))
        original(self)

    monkeypatch.setattr(Outbox, "flush", counting_flush)

    async def block(request: Any) -> PlainTextResponse:
        time.sleep(1.0)  # deliberately blocks the event loop
        return PlainTextResponse("unblocked")

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    base, _, stop = _serve_counting(Starlette(routes=[Route("/block", block),
                                                      Route("/hello", hello)]))
    host, port = base.removeprefix("http://").split(":")
    sockets: list[socket.socket] = []
    try:
        sockets = [socket.create_connection((host, int(port)), timeout=10) for _ in range(9)]
        streams = [sock.makefile("rb") for sock in sockets]
        for sock, stream in zip(sockets, streams, strict=True):  # all accepted, then idle
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_response(stream)[1] == b"hello"
        batches.clear()
        sockets[0].sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # the server is now inside /block
        for sock in sockets[1:]:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = [_read_response(stream)[1] for stream in streams]
    finally:
        for sock in sockets:
            sock.close()
        stop()
    assert answers == [b"unblocked"] + [b"hello"] * 8
    assert max(batches) >= 4, batches
