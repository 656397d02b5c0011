"""Every store bounded in count and bytes; admin lists paged; keys masked in lists (issue 16).

Over real HTTP where a user meets the bound (journal, accounts, admin lists),
on the domain objects where the bound is arithmetic (job bytes, key LRU).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Served
from http_api import Api
from starlette.applications import Starlette

from mockserver.config import ConfigError, LimitsConfig, MockConfig
from mockserver.domain.accounts import Accounts
from mockserver.domain.clock import ManualClock
from mockserver.domain.world import JOB_OVERHEAD_BYTES, World, approx_bytes
from mockserver.http.journal import mask_secret

KEY = "sk-limits-0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000


def _serve(make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served],
           **limits: int) -> tuple[Served, httpx.Client]:
    served = serve_app(make_app(config=MockConfig(limits=LimitsConfig(**limits))))
    return served, httpx.Client(base_url=served.url, timeout=10, trust_env=False)


def test_journal_bodies_are_cut_when_recorded_and_marked(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served]
) -> None:
    served, http = _serve(make_app, serve_app, journal_body_bytes=100)
    with http:
        Api(http, "eachlabs", KEY).create_ok(inputs={"prompt": "p" * 5000})
        [entry] = http.get("/_mock/requests").json()["requests"]
        assert entry["body_truncated"] is True and entry["body_bytes"] > 5000
        assert entry["body"].startswith('{"model"') and entry["body"].endswith(
            f"...({entry['body_bytes']} bytes)")
        assert entry["response_bytes"] > 100 and entry["response_truncated"] is True
    kept = served.state.world.journal[0]
    assert len(kept[8]) == 100  # the raw body is not kept whole


def test_journal_is_bounded_in_bytes(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served]
) -> None:
    served, http = _serve(make_app, serve_app, journal_bytes=20_000)
    with http:
        for _ in range(40):
            http.get("/_mock/health")
            http.get("/eachlabs/v1/prediction/nope", headers={"X-API-Key": KEY,
                                                              "X-Pad": "x" * 1500})
        listed = http.get("/_mock/requests?limit=500").json()
    assert served.state.journal.bytes <= 20_000
    assert 5 < listed["stored"] < 40 and listed["stored_bytes"] <= 20_000


def test_upload_bodies_are_not_kept_again_in_the_journal(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10, trust_env=False) as http:
        answer = http.post("/wavespeed/api/v3/media/upload/binary",
                           headers={"Authorization": f"Bearer {KEY}"},
                           files={"file": ("cat.png", PNG, "image/png")})
        assert answer.status_code == 200, answer.text
        [entry] = http.get("/_mock/requests?endpoint=upload").json()["requests"]
    assert entry["body"] is None and entry["body_bytes"] > len(PNG)
    assert entry["body_truncated"] is True
    assert served.state.world.journal[-1][8] == b""


def test_accounts_forget_the_least_recently_used_unconfigured_key() -> None:
    accounts = Accounts.from_config({"keys": {"sk-configured": {"balance": 7}}}, max_keys=3)
    accounts.get("eachlabs", "sk-configured")
    accounts.known_keys = None  # let any key in, as without a key list
    for key in ("a", "b", "c"):
        accounts.get("eachlabs", key)
    accounts.get("eachlabs", "a")  # a is used again: b is now the oldest
    accounts.set("a", balance=5)
    accounts.get("eachlabs", "d")
    keys = [k for _, k in accounts.keys_from(0)]
    assert keys == ["a", "c", "d", "sk-configured"]
    assert accounts.get("eachlabs", "a").balance == 5
    for index in range(20):
        accounts.get("wavespeed", f"k{index}")
    assert "sk-configured" in [k for _, k in accounts.keys_from(0)]  # configured: never
    assert accounts.get("eachlabs", "sk-configured").balance == 7
    assert len(accounts) == 4


def test_accounts_are_bounded_in_bytes_too() -> None:
    accounts = Accounts(max_keys=1000, max_key_bytes=10 * Accounts.key_bytes("x" * 1000))
    for index in range(50):
        accounts.get("eachlabs", f"{index:04d}" + "x" * 996)
    assert len(accounts) == 10 and accounts.evictable_bytes <= accounts.max_key_bytes


def test_the_job_store_is_bounded_in_bytes(make_app: Callable[..., Starlette]) -> None:
    from dataclasses import replace

    app = make_app(config=MockConfig())
    template = app.state.mock.world  # a world of our own, with a small byte bound
    one = JOB_OVERHEAD_BYTES + 1 + approx_bytes({"prompt": "p" * 200_000})
    world = World(ManualClock(), max_job_bytes=3 * one)
    from mockserver.domain.lifecycle import Job, Plan

    base = Job(id="0", provider="eachlabs", model_id="m", key="k", input={}, created_at=0.0,
               plan=Plan.from_estimate(10))
    for index in range(10):
        world.add(replace(base, id=str(index), input={"prompt": "p" * 200_000}))
    assert len(world) == 3 and world.job_bytes <= world.max_job_bytes
    assert [job.id for job in world.jobs()] == ["7", "8", "9"]
    assert template is not world


def test_admin_lists_page_with_a_cursor_newest_first(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served]
) -> None:
    _, http = _serve(make_app, serve_app)
    with http:
        api = Api(http, "apikley", KEY)
        created = [api.create_ok() for _ in range(7)]
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": "3", "provider": "apikley", **({"cursor": cursor} if cursor else {})}
            page = http.get("/_mock/jobs", params=query).json()
            assert page["count"] == len(page["jobs"]) <= 3 and page["limit"] == 3
            seen += [job["id"] for job in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == created[::-1]
        oldest = http.get("/_mock/jobs", params={"order": "oldest", "limit": "2"}).json()
        assert [job["id"] for job in oldest["jobs"]] == created[:2]
        by_key = http.get("/_mock/jobs", params={"key": KEY, "state": "queued"}).json()
        assert by_key["count"] == 7
        requests = http.get("/_mock/requests", params={"limit": "2"}).json()
        later = http.get("/_mock/requests",
                         params={"limit": "2", "cursor": requests["next_cursor"]}).json()
        seqs = [e["seq"] for e in requests["requests"] + later["requests"]]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4
        for path in ("/_mock/jobs", "/_mock/requests", "/_mock/accounts", "/_mock/uploads",
                     "/_mock/webhooks", "/_mock/scenarios"):
            for bad in ("limit=501", "limit=-1", "limit=x", "order=up", "cursor=abc"):
                reply = http.get(f"{path}?{bad}")
                if bad == "cursor=abc" and path == "/_mock/accounts":
                    assert reply.status_code == 400
                    continue
                assert reply.status_code == 400, (path, bad, reply.text)
                assert "limit" in reply.text or "order" in reply.text or "cursor" in reply.text


def test_keys_and_secrets_are_masked_in_lists_and_whole_on_the_key(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10, trust_env=False) as http:
        Api(http, "eachlabs", KEY).create_ok()
        http.put(f"/_mock/accounts/{KEY}", json={"webhook_secret": "whsec_supersecret123456"})
        listing = http.get("/_mock/accounts")
        [entry] = listing.json()["keys"]
        assert entry["key"] == mask_secret(KEY) and entry["fingerprint"]
        assert entry["webhook_secret"] == mask_secret("whsec_supersecret123456")
        journal = http.get("/_mock/requests").text
        one = http.get(f"/_mock/accounts/{KEY}").json()
    for text in (listing.text, journal):
        assert KEY not in text and "whsec_supersecret123456" not in text
    assert one["key"] == KEY and one["webhook_secret"] == "whsec_supersecret123456"


@pytest.mark.parametrize(
    ("table", "named"),
    [({"limits": {"keys": 0}}, "'limits.keys'"), ({"limits": {"colour": 1}}, "colour"),
     ({"server": {"max_connections": 0}}, "'server.max_connections'"),
     ({"server": {"header_timeout_seconds": 0}}, "'server.header_timeout_seconds'"),
     # A clock that starts or runs past year 9999 would break every date it prints.
     ({"clock": {"start": 1e300}}, "'clock.start'"),
     ({"clock": {"speed": 1e300}}, "'clock.speed'")],
)
def test_bad_limits_in_a_config_name_the_key(table: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        MockConfig.from_mapping(table)


def test_limits_from_a_config_file(tmp_path: Any) -> None:
    path = tmp_path / "mock.toml"
    path.write_text("[limits]\nkeys = 5\njournal_body_bytes = 64\n"
                    "[server]\nmax_connections = 7\nkeep_alive_seconds = 2.5\n")
    config = MockConfig.load(path)
    assert config.limits.keys == 5 and config.limits.journal_body_bytes == 64
    assert config.limits.jobs == LimitsConfig().jobs
    assert config.server.max_connections == 7 and config.server.keep_alive_seconds == 2.5
    assert json.dumps(config.limits.__dict__)
