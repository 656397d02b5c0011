"""What any worker of a fleet shows: the journal, uploads and live updates of every worker.

Two apps on one Redis prefix, each served by uvicorn on its own loopback port,
are two independent workers (as ``mockserver serve --workers 2`` runs them):
what is done through one is seen through the other. Also the journal's own
guarantees on Redis: fleet-wide sequence numbers, the count and byte bounds,
batched writes (no round trip per request), masking before anything leaves
the worker, and a reset that forgets what a worker still buffered.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from http_api import Api, error_code

from mockserver.config import LimitsConfig, MockConfig
from mockserver.store import connect_redis
from mockserver.store.interface import JournalRecord, StoreUnavailable
from mockserver.store.journal import BatchBuffer
from mockserver.store.redis_store import RedisStore

SECRET_KEY = "sk-fleet-0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def shared(redis_url: str) -> Iterator[Callable[[], RedisStore]]:
    """Factory: stores on ONE prefix (each its own connections, as each worker has)."""
    prefix = f"fleet{uuid.uuid4().hex[:10]}"
    made: list[RedisStore] = []

    def factory() -> RedisStore:
        store = connect_redis(redis_url, prefix=prefix)
        made.append(store)
        return store

    yield factory
    made[0].reset(keep_clock=False)
    for store in made:
        store.close()


@pytest.fixture
def fleet(make_app: Any, serve_app: Any, shared: Callable[[], RedisStore]) -> list[Any]:
    """Two workers on one prefix, each served on its own port."""
    return [serve_app(make_app(store=shared())) for _ in range(2)]


def until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``check()`` once it is truthy (another worker writes within its flush delay)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def requests_of(url: str, query: str = "") -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/_mock/requests?limit=500{query}", timeout=10)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["requests"]
    return entries


def test_a_request_through_one_worker_is_in_the_other_workers_journal_and_timeline(
    fleet: list[Any],
) -> None:
    a, b = fleet
    with httpx.Client(base_url=a.url, timeout=10) as http:
        job_id = Api(http, "eachlabs", SECRET_KEY).create_ok()
    created = until(lambda: [e for e in requests_of(b.url, "&endpoint=create")
                             if e["job_id"] == job_id])
    assert len(created) == 1, requests_of(b.url)
    entry = created[0]
    assert isinstance(entry["seq"], int) and entry["provider"] == "eachlabs"
    assert entry["status"] == 200 and entry["wall"] is not None
    shown = str(entry["headers"])
    assert SECRET_KEY not in shown and "***" in shown  # masked, as in memory
    detail = httpx.get(f"{b.url}/_mock/requests/{entry['seq']}", timeout=10).json()
    assert detail["job_id"] == job_id and detail["near_miss"] is None
    assert detail["body"] == entry["body"] and SECRET_KEY not in str(detail)
    timeline = httpx.get(f"{b.url}/_mock/jobs/{job_id}/timeline", timeout=10).json()
    (create,) = [e for e in timeline["events"] if e["kind"] == "create"]
    assert create["request_seq"] == entry["seq"] and create["detail"]["status"] == 200


def test_sequence_numbers_are_unique_across_workers_and_filters_and_cursors_see_all(
    fleet: list[Any],
) -> None:
    a, b = fleet
    for index in range(6):
        worker = (a, b)[index % 2]
        httpx.get(f"{worker.url}/eachlabs/v1/nowhere?i={index}", timeout=10)
        httpx.get(f"{worker.url}/wavespeed/api/v3/predictions/unknown{index}/result",
                  headers={"Authorization": "Bearer ws-key"}, timeout=10)
    everything = until(lambda: (lambda found: found if len(found) == 12 else None)(
        requests_of(a.url)))
    assert everything, requests_of(a.url)
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(set(seqs), reverse=True)  # unique, newest first
    assert [e["seq"] for e in requests_of(b.url)] == seqs  # both workers show one journal
    eachlabs = requests_of(b.url, "&provider=eachlabs")
    assert sorted(e["query"]["i"] for e in eachlabs) == [str(i) for i in range(6)]
    assert {e["status"] for e in requests_of(b.url, "&status=404")} == {404}
    pages: list[int] = []
    cursor = ""
    while True:
        answer = httpx.get(f"{b.url}/_mock/requests?limit=5&order=oldest{cursor}",
                           timeout=10).json()
        pages += [e["seq"] for e in answer["requests"]]
        if answer["next_cursor"] is None:
            break
        cursor = f"&cursor={answer['next_cursor']}"
    assert pages == sorted(seqs)
    listing = httpx.get(f"{b.url}/_mock/requests?limit=1", timeout=10).json()
    assert listing["stored"] == 12 and listing["stored_bytes"] > 0


def test_an_upload_through_one_worker_is_served_and_accepted_by_the_other(
    fleet: list[Any],
) -> None:
    a, b = fleet
    key = {"Authorization": "Bearer ws-upload-key"}
    answer = httpx.post(f"{a.url}/wavespeed/api/v3/media/upload/binary",
                        files={"file": ("cat.png", PNG, "image/png")}, headers=key, timeout=10)
    assert answer.status_code == 200, answer.text
    url_on_a = answer.json()["data"]["download_url"]
    url_on_b = url_on_a.replace(a.url, b.url)
    fetched = httpx.get(url_on_b, timeout=10)
    assert fetched.status_code == 200 and fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    listed = httpx.get(f"{b.url}/_mock/uploads", timeout=10).json()
    assert [(u["filename"], u["size"], u["complete"]) for u in listed["uploads"]] == [
        ("cat.png", len(PNG), True)]
    # the two-step upload: the ticket from B, the bytes put through A, served by B
    ticket = httpx.post(f"{b.url}/wavespeed/api/v3/media/uploads",
                        json={"filename": "dog.png", "size": len(PNG)}, headers=key,
                        timeout=10).json()["data"]
    put = httpx.put(ticket["upload"]["url"].replace(b.url, a.url), content=PNG, timeout=10)
    assert put.status_code == 200 and put.json()["complete"] is True
    assert httpx.get(ticket["download_url"], timeout=10).content == PNG
    # a create through B accepts A's upload as its input file
    create = httpx.post(f"{b.url}/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video",
                        json={"image": url_on_a, "prompt": "a cat"}, headers=key, timeout=10)
    assert create.status_code == 200, create.text


def test_a_console_stream_on_one_worker_sees_a_create_through_the_other(
    fleet: list[Any],
) -> None:
    a, b = fleet
    events: list[tuple[str, str]] = []
    ready = threading.Event()

    def read() -> None:
        with httpx.Client(timeout=10) as http, http.stream("GET", f"{b.url}/_mock/events") as r:
            name = ""
            for line in r.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    events.append((name, line))
                    ready.set()
                    if name == "change" and '"jobs"' in line.split('"snapshot"')[0]:
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(5) and events[0][0] == "hello"
    time.sleep(0.5)  # a poll or more with nothing changed
    assert [name for name, _ in events] == ["hello"]
    with httpx.Client(base_url=a.url, timeout=10) as http:
        Api(http, "eachlabs", "sk-live-fleet").create_ok()
    reader.join(5)
    changes = [data for name, data in events if name == "change"]
    assert changes, events
    changed = changes[-1].split('"snapshot"')[0]
    assert '"jobs"' in changed and '"requests"' in changed


def test_a_reset_forgets_what_a_worker_had_not_written_yet(
    make_app: Any, make_client: Any, make_store: Any
) -> None:
    store = make_store()
    client = make_client(make_app(store=store))
    for index in range(5):
        client.get(f"/eachlabs/v1/nowhere?i={index}")
    assert client.post("/_mock/reset").status_code == 200
    assert client.get("/_mock/requests").json()["count"] == 0
    client.get("/eachlabs/v1/after")
    (entry,) = client.get("/_mock/requests").json()["requests"]
    assert entry["path"] == "/eachlabs/v1/after"
    assert store.journal_length() == 1


def test_requests_cost_no_journal_round_trip_each(
    make_app: Any, make_client: Any, make_store: Any
) -> None:
    store = make_store()
    client = make_client(make_app(store=store))
    client.get("/_mock/requests")  # scripts loaded, the clock set up
    batches: list[int] = []
    add = store.journal_add

    def counted(entries: Any, **kwargs: Any) -> Any:
        batches.append(len(entries))
        return add(entries, **kwargs)

    store.journal_add = counted
    for index in range(40):
        client.get(f"/eachlabs/v1/nowhere?i={index}")
    # the journal's thread writes a batch every 50 ms: a few round trips, never 40
    assert len(batches) <= 8, batches
    assert len(client.get("/_mock/requests?limit=500").json()["requests"]) == 40
    assert sum(batches) == 40


def test_nothing_unmasked_reaches_the_store(
    make_app: Any, make_client: Any, make_store: Any
) -> None:
    store = make_store()
    client = make_client(make_app(store=store))
    api = Api(client, "eachlabs", SECRET_KEY)
    job_id = api.create_ok()
    api.poll(job_id)
    client.post("/eachlabs/v1/prediction/?api_key=" + SECRET_KEY,
                json={"model": "x", "api_key": SECRET_KEY, "token": SECRET_KEY},
                headers={"X-API-Key": SECRET_KEY, "Authorization": f"Bearer {SECRET_KEY}"})
    client.get(f"/eachlabs/v1/nowhere?token={SECRET_KEY}",
               headers={"Authorization": f"Bearer {SECRET_KEY}"})
    assert client.get("/_mock/requests").json()["count"] == 4  # flushed to the store
    raw = store._redis.xrange(f"{store.prefix}:journal", "-", "+")
    assert len(raw) == 4
    stored = b"".join(value for _, fields in raw for value in fields.values())
    assert SECRET_KEY.encode() not in stored
    assert SECRET_KEY[-8:].encode() not in stored  # not even most of it
    assert b"***" in stored


def test_the_journal_keeps_its_count_and_byte_bounds_in_redis(make_store: Any) -> None:
    store = make_store()

    def record(number: int, size: int) -> JournalRecord:
        return JournalRecord(b'{"n":%d}' % number, "eachlabs", 200, "poll", None, size)

    store.journal_add([record(n, 100) for n in range(10)], max_bytes=10_000, max_entries=4)
    assert store.journal_length() == 4
    count, size, last = store.journal_stats()
    assert (count, size, last) == (4, 400, 10)
    store.journal_add([record(n, 300) for n in range(10, 13)], max_bytes=700, max_entries=4)
    kept, _ = store.journal_scan(None, 10)
    assert [seq for seq, _ in kept] == [13, 12]  # 600 bytes: a third would be 900
    assert store.journal_stats()[:2] == (2, 600)
    store.journal_add([record(99, 5000)], max_bytes=700, max_entries=4)
    assert [seq for seq, _ in store.journal_scan(None, 10)[0]] == [14]  # the newest stays


def test_a_small_journal_config_bounds_the_redis_journal_over_http(
    make_app: Any, make_client: Any, make_store: Any
) -> None:
    store = make_store()
    config = MockConfig(limits=LimitsConfig(journal_bytes=20_000))
    client = make_client(make_app(store=store, config=config))
    for index in range(40):
        client.post("/eachlabs/v1/nowhere", content=b"x" * 3000, params={"i": str(index)})
    listing = client.get("/_mock/requests?limit=500").json()
    assert 2 <= listing["stored"] < 40 and listing["stored_bytes"] <= 20_000
    assert listing["requests"][0]["query"]["i"] == "39"  # the newest kept
    assert store.journal_stats()[1] <= 20_000


def test_the_buffer_is_bounded_and_counts_what_it_drops_while_the_store_is_away() -> None:
    written: list[list[int]] = []
    away = True

    def write(batch: list[int]) -> None:
        if away:
            raise StoreUnavailable("Redis is unavailable")
        written.append(batch)

    buffer: BatchBuffer[int] = BatchBuffer(write, max_items=5, max_bytes=1_000,
                                           flush_seconds=3600)
    for number in range(12):
        buffer.add(number, 100)
    assert len(buffer) == 5 and buffer.dropped == 7  # a ring: the newest five wait
    with pytest.raises(StoreUnavailable):
        buffer.flush()
    assert len(buffer) == 0 and buffer.dropped == 12  # the refused batch is counted too
    for number in range(3):
        buffer.add(number, 400)
    assert len(buffer) == 2  # 1,000 bytes at most
    away = False
    assert buffer.flush() == 2 and written == [[1, 2]]
    buffer.close()


def test_a_worker_writes_its_entries_by_itself_within_the_flush_delay(
    make_app: Any, make_client: Any, make_store: Any
) -> None:
    store = make_store()
    client = make_client(make_app(store=store))
    client.get("/eachlabs/v1/nowhere")
    assert until(lambda: store.journal_length() == 1, timeout=2.0)


def test_with_redis_away_journal_reads_and_the_console_answer_503_and_resume(
    redis_server: Any, make_app: Any, make_client: Any, serve_app: Any
) -> None:
    redis_server.start()
    store = connect_redis(redis_server.url, prefix="away", timeout=0.3)
    try:
        served = serve_app(make_app(store=store))
        http = httpx.Client(base_url=served.url, timeout=10)
        http.get("/eachlabs/v1/nowhere?i=before")
        assert len(requests_of(served.url)) == 1
        redis_server.kill()
        for index in range(3):
            http.get(f"/eachlabs/v1/nowhere?i=away{index}")
        away = http.get("/_mock/requests")
        assert away.status_code == 503 and "unavailable" in away.json()["error"]
        assert http.get("/_mock/events").status_code == 503
        journal = served.state.journal
        assert len(journal.buffer) <= journal.max_entries  # never more than the journal holds
        redis_server.start()
        http.get("/eachlabs/v1/nowhere?i=after")
        entries = until(lambda: requests_of(served.url))
        assert entries[0]["query"]["i"] == "after"  # service resumed by itself
        http.close()
    finally:
        store.close()


def test_a_worker_writes_what_it_still_holds_when_it_shuts_down(
    make_app: Any, serve_app: Any, make_store: Any
) -> None:
    store = make_store()
    served = serve_app(make_app(store=store))
    served.state.journal.buffer.flush_seconds = 3600  # only the shutdown writes them
    for index in range(3):
        httpx.get(f"{served.url}/eachlabs/v1/nowhere?i={index}", timeout=10)
    assert store.journal_length() == 0
    served.stop()
    assert store.journal_length() == 3


def test_a_scenario_queued_through_one_worker_fires_once_on_the_other(
    fleet: list[Any],
) -> None:
    # The other worker had already found the queue empty (and skips it while it knows
    # that): the push must reach it, and times: 1 must fire once across both.
    first, second = (httpx.Client(base_url=w.url, trust_env=False) for w in fleet)
    try:
        api_b = Api(second, "eachlabs", "k-scenario")
        api_b.create_ok()  # B now knows the queue is empty
        queued = first.post("/_mock/scenarios", json={"code": 429, "times": 1,
                                                        "match": {"provider": "eachlabs"}})
        assert queued.status_code == 201, queued.text
        time.sleep(0.2)  # the notice travels by pub/sub
        assert error_code("eachlabs", api_b.create()) == 429
        assert error_code("eachlabs", Api(first, "eachlabs", "k-scenario").create()) is None
        assert error_code("eachlabs", api_b.create()) is None
        assert first.get("/_mock/scenarios").json()["queued"] == []
    finally:
        first.close()
        second.close()
