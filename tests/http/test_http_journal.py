"""The request journal: masking, body capture, the ring bound."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from mockserver.config import MockConfig
from mockserver.http.journal import BODY_CAP, journal_body, mask_headers, mask_secret
from mockserver.providers import registry

pytestmark = pytest.mark.store_backends


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("sk-0123456789abcdef", "***cdef"),
        ("Bearer sk-0123456789abcdef", "Bearer ***cdef"),
        ("12345678", "***78"),
        ("abc", "***"),
        ("", "***"),
    ],
)
def test_mask_secret_keeps_at_most_four_characters(secret: str, masked: str) -> None:
    assert mask_secret(secret) == masked


def test_mask_headers_masks_only_secret_headers() -> None:
    headers = {
        "Authorization": "Bearer abcdefghijklmnop",
        "X-API-Key": "key-0123456789abcd",
        "X-Webhook-Secret": "whsec_0123456789abcdef",
        "Cookie": "session=0123456789abcdef",
        "Content-Type": "application/json",
    }
    masked = mask_headers(headers)
    assert masked == {
        "authorization": "Bearer ***mnop",
        "x-api-key": "***abcd",
        "x-webhook-secret": "***cdef",
        "cookie": "***cdef",
        "content-type": "application/json",
    }


def test_journal_body_parses_json_masks_secrets_and_caps_text() -> None:
    assert journal_body(b"") is None
    assert journal_body(b'{"a": [1], "webhook_secret": "s3cr3t-value-long"}') == {
        "a": [1],
        "webhook_secret": "***long",
    }
    assert journal_body(b"plain text") == "plain text"
    big = journal_body(b"y" * (BODY_CAP + 10))
    assert isinstance(big, str)
    assert big.endswith(f"...({BODY_CAP + 10} bytes)")
    assert len(big) < BODY_CAP + 40


def test_every_provider_request_is_journaled_with_secrets_masked(
    fake_client: httpx.Client,
) -> None:
    fake_client.post(
        "/eachlabs/v1/jobs?trace=1",
        json={"input": {"prompt": "cat"}, "webhook_url": "http://127.0.0.1:9/h",
              "webhook_secret": "very-secret-value-1234"},
        headers={"Authorization": "Bearer sk-live-abcdefghijkl"},
    )
    entries = fake_client.get("/_mock/requests").json()["requests"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["method"] == "POST"
    assert entry["path"] == "/eachlabs/v1/jobs"
    assert entry["provider"] == "eachlabs"
    assert entry["endpoint"] == "create"
    assert entry["query"] == {"trace": "1"}
    assert entry["headers"]["authorization"] == "Bearer ***ijkl"
    assert entry["body"]["webhook_secret"] == "***1234"
    assert entry["body"]["input"] == {"prompt": "cat"}
    assert entry["status"] == 200
    assert entry["response"]["status"] == "queued"
    assert entry["at"] == 1_767_225_600.0  # mock time (manual clock start)
    assert entry["duration_ms"] >= 0
    text = str(entries)
    assert "abcdefghijkl" not in text and "very-secret-value" not in text


def test_journal_filters_by_provider_and_limit(fake_client: httpx.Client) -> None:
    first, second, third = registry.names()[:3]
    for provider in (first, second, first, third):
        fake_client.get(f"/{provider}/v1/where")
    everything = fake_client.get("/_mock/requests").json()
    assert everything["count"] == 4
    only = fake_client.get(f"/_mock/requests?provider={first}").json()["requests"]
    assert [e["provider"] for e in only] == [first, first]
    newest = fake_client.get("/_mock/requests?limit=2").json()["requests"]
    assert [e["provider"] for e in newest] == [third, first]  # newest first
    assert [e["seq"] for e in newest] == sorted((e["seq"] for e in newest), reverse=True)


def test_journal_numbers_go_on_after_a_reset(fake_client: httpx.Client) -> None:
    # A cursor taken before a reset must never name an entry recorded after it
    # (the Redis journal numbered from 1 again).
    for _ in range(3):
        fake_client.get("/eachlabs/v1/where")
    before = fake_client.get("/_mock/requests").json()["requests"][0]["seq"]
    assert fake_client.post("/_mock/reset").status_code == 200
    fake_client.get("/eachlabs/v1/where")
    [after] = fake_client.get("/_mock/requests").json()["requests"]
    assert after["seq"] > before


@pytest.mark.parametrize("seq", ["-1", "0", "18446744073709551615", "99999999999999999999999"])
def test_entry_numbers_out_of_any_range_are_not_found(
    fake_client: httpx.Client, seq: str
) -> None:
    fake_client.get("/eachlabs/v1/where")
    assert fake_client.get(f"/_mock/requests/{seq}").status_code == 404
    for order in ("newest", "oldest"):
        reply = fake_client.get(f"/_mock/requests?cursor={seq}&order={order}")
        assert reply.status_code == 200, reply.text  # a Redis stream id refused it: a 500


def test_journal_is_a_bounded_ring(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client(make_app(adapters=fake_adapters, config=MockConfig(journal_size=3)))
    for index in range(5):
        client.get(f"/eachlabs/v1/where?i={index}")
    entries = client.get("/_mock/requests?limit=100&order=oldest").json()["requests"]
    assert [e["query"]["i"] for e in entries] == ["2", "3", "4"]


def test_admin_calls_are_not_journaled_but_media_is(fake_client: httpx.Client) -> None:
    fake_client.get("/_mock/health")
    fake_client.get("/_mock/media/abc.mp4")
    entries = fake_client.get("/_mock/requests").json()["requests"]
    assert [(e["endpoint"], e["status"]) for e in entries] == [("media", 200)]
