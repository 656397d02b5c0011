"""WaveSpeed media uploads: the store, the form parser, and both upload flows over loopback.

The SDK's ``Client.upload`` (ticket, then PUT) runs unmodified against the
served mock; the multipart upload is sent with httpx. Every provider answer
is validated against the contract by the app fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.domain.uploads import UploadError, UploadStore
from mockserver.providers.forms import FormPart, parse_form_data
from mockserver.providers.uploads import media_type_of

pytestmark = pytest.mark.store_backends

wavespeed = pytest.importorskip("wavespeed", reason="the wavespeed SDK is a dev dependency")

KEY = {"Authorization": "Bearer ws-upload-key"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # every byte value, CR and LF included


# --- the store -----------------------------------------------------------------------------

def test_an_announced_upload_is_incomplete_until_its_bytes_arrive() -> None:
    store = UploadStore()
    upload = store.announce("cat.png", "image/png", 3)
    assert store.get(upload.token) is upload and upload.data is None and upload.size == 3
    store.receive(upload.token, b"abcd")
    assert upload.data == b"abcd" and upload.size == 4 and store.stored_bytes == 4
    store.receive(upload.token, b"xy")  # a second PUT replaces the first
    assert upload.data == b"xy" and store.stored_bytes == 2


def test_the_store_forgets_its_oldest_uploads_past_its_count_and_bytes() -> None:
    store = UploadStore(max_uploads=3, max_bytes=10)
    tokens = [store.add(f"{n}.bin", "application/octet-stream", b"12").token for n in range(4)]
    assert [u.token for u in store.uploads()] == tokens[1:]  # count bound
    big = store.add("big.bin", "application/octet-stream", b"123456789")
    assert [u.token for u in store.uploads()] == [big.token]  # bytes bound: 9 + 2 > 10
    assert store.stored_bytes == 9


def test_the_store_refuses_unknown_tokens_and_files_over_its_limit() -> None:
    store = UploadStore(max_bytes=4)
    with pytest.raises(UploadError) as unknown:
        store.receive("nope", b"")
    assert unknown.value.status == 404
    upload = store.announce("a.bin", "application/octet-stream", 100)  # a size is only a claim
    with pytest.raises(UploadError) as large:
        store.receive(upload.token, b"12345")
    assert large.value.status == 413 and store.get(upload.token) is upload
    store.clear()
    assert len(store) == 0 and store.stored_bytes == 0


# --- form data and media types -----------------------------------------------------------

def test_a_multipart_body_gives_back_its_fields_byte_for_byte() -> None:
    request = httpx.Request("POST", "http://x/", files={"file": ("cat.png", PNG, "image/png")},
                            data={"note": "hi"})
    fields = parse_form_data(request.headers["content-type"], request.read())
    assert fields is not None
    assert fields["file"].data == PNG and fields["file"].filename == "cat.png"
    assert fields["file"].content_type == "image/png"
    assert fields["note"].data == b"hi" and fields["note"].filename is None


def test_a_quoted_boundary_a_preamble_and_a_part_without_headers_are_understood() -> None:
    body = (b"a preamble\r\n--xyz\r\n"
            b'Content-Disposition: form-data; name="f"; filename="q.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\nhello\r\n--xyz\r\n"
            b"\r\nno name: skipped\r\n--xyz--\r\n")
    fields = parse_form_data('multipart/form-data; boundary="xyz"', body)
    assert fields == {"f": FormPart("f", b"hello", "q.txt", "text/plain")}


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b"{}"),
    ("multipart/form-data", b"--x\r\n\r\n--x--"),  # no boundary
    ("multipart/form-data; boundary=abc", b"not a multipart body"),
    ("multipart/form-data; boundary=abc",
     b'--abc\r\nContent-Disposition: form-data; name="file"\r\n\r\nno closing delimiter'),
])
def test_what_is_not_multipart_form_data_gives_none(content_type: str, body: bytes) -> None:
    assert parse_form_data(content_type, body) is None


@pytest.mark.parametrize(("declared", "filename", "expected"), [
    ("image/PNG", "x.bin", "image/png"),
    ("video/mp4; codecs=avc1", "x", "video/mp4"),
    ("\x07", "cat.jpg", "image/jpeg"),  # not a media type: guessed from the name
    (None, "clip.mp4", "video/mp4"),
    (None, "noextension", "application/octet-stream"),
])
def test_the_served_media_type_is_the_declared_one_or_a_guess(
    declared: str | None, filename: str, expected: str,
) -> None:
    assert media_type_of(declared, filename) == expected


# --- over loopback -------------------------------------------------------------------------

def test_the_sdk_uploads_a_file_and_its_url_serves_the_same_bytes(
    served: Any, tmp_path: Path,
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    client = wavespeed.Client(api_key="ws-upload-key", base_url=f"{served.url}/wavespeed",
                              max_connection_retries=0)
    url = client.upload(str(path))
    assert url.startswith(f"{served.url}/_mock/uploads/") and url.endswith("/cat.png")
    fetched = httpx.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    head = httpx.head(url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(PNG)
    [listed] = httpx.get(f"{served.url}/_mock/uploads", timeout=10).json()["uploads"]
    assert listed["filename"] == "cat.png" and listed["size"] == len(PNG) and listed["complete"]
    # The URL is an input like any other: a create that uses it is accepted.
    job = client.run("wavespeed-ai/wan-2.2/image-to-video", {"image": url, "prompt": "a cat"},
                     enable_sync_mode=True, timeout=30)
    assert job["outputs"]


def test_a_multipart_upload_answers_in_the_wavespeed_envelope(served: Any) -> None:
    with httpx.Client(base_url=f"{served.url}/wavespeed", headers=KEY, timeout=10) as client:
        answer = client.post("/api/v3/media/upload/binary",
                             files={"file": ("cat.png", PNG, "image/png")})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["code"] == 200 and body["data"]["type"] == "image"
        assert body["data"]["filename"] == "cat.png" and body["data"]["size"] == len(PNG)
        assert httpx.get(body["data"]["download_url"], timeout=10).content == PNG

        missing = client.post("/api/v3/media/upload/binary", files={"other": ("a", b"1")})
        assert missing.status_code == 400
        assert missing.json()["data"] is None and "`file`" in missing.json()["message"]
        not_form = client.post("/api/v3/media/upload/binary", json={"file": "x"})
        assert not_form.status_code == 400 and "multipart/form-data" in not_form.json()["message"]
    anonymous = httpx.post(f"{served.url}/wavespeed/api/v3/media/upload/binary",
                           files={"file": ("cat.png", PNG, "image/png")}, timeout=10)
    assert anonymous.status_code == 401
    assert httpx.get(f"{served.url}/_mock/uploads", timeout=10).json()["uploads"][0]["complete"]


def test_bad_tickets_puts_and_fetches_get_clear_errors(served: Any) -> None:
    tickets = f"{served.url}/wavespeed/api/v3/media/uploads"
    bad = httpx.post(tickets, json={"filename": "a.png", "size": -1}, headers=KEY, timeout=10)
    assert bad.status_code == 400 and bad.json()["code"] == 400 and bad.json()["data"] is None
    too_big = httpx.post(tickets, json={"filename": "a.png", "size": 300 * 1024 * 1024},
                         headers=KEY, timeout=10)
    assert too_big.status_code == 400
    ticket = httpx.post(tickets, json={"filename": "a.png", "size": 3}, headers=KEY,
                        timeout=10).json()["data"]
    assert ticket["upload"]["headers"] == {"Content-Type": "image/png"}
    early = httpx.get(ticket["download_url"], timeout=10)  # nothing put yet
    assert early.status_code == 404 and "never put" in early.json()["error"]
    unknown = httpx.put(f"{served.url}/_mock/uploads/nope", content=b"abc", timeout=10)
    assert unknown.status_code == 404 and "no upload" in unknown.json()["error"]
    put = httpx.put(ticket["upload"]["url"], content=b"abc", timeout=10)
    assert put.status_code == 200 and put.json()["complete"] is True
    assert httpx.get(ticket["download_url"], timeout=10).content == b"abc"
    assert httpx.post(f"{served.url}/_mock/reset", timeout=10).status_code == 200
    assert httpx.get(ticket["download_url"], timeout=10).status_code == 404  # reset forgets


def test_a_file_over_the_store_limit_is_refused(served: Any) -> None:
    served.state.service.uploads.max_bytes = 1000
    ticket = httpx.post(f"{served.url}/wavespeed/api/v3/media/uploads",
                        json={"filename": "a.bin", "size": 5000}, headers=KEY,
                        timeout=10).json()["data"]
    refused = httpx.put(ticket["upload"]["url"], content=b"x" * 5000, timeout=10)
    assert refused.status_code == 413 and "1000 bytes" in refused.json()["error"]
    multipart = httpx.post(f"{served.url}/wavespeed/api/v3/media/upload/binary",
                           files={"file": ("a.bin", b"x" * 5000)}, headers=KEY, timeout=10)
    assert multipart.status_code == 413  # in WaveSpeed's envelope, like every provider error
    assert multipart.json()["code"] == 413 and "1000 bytes" in multipart.json()["message"]


def test_only_a_complete_upload_of_this_mock_passes_for_a_public_file_url(served: Any) -> None:
    create = f"{served.url}/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video"
    ticket = httpx.post(f"{served.url}/wavespeed/api/v3/media/uploads",
                        json={"filename": "a.png", "size": 3}, headers=KEY,
                        timeout=10).json()["data"]
    inputs = {"image": ticket["download_url"], "prompt": "a cat"}
    early = httpx.post(create, json=inputs, headers=KEY, timeout=10)  # bytes not put yet
    assert early.status_code == 400 and "https" in early.json()["message"]
    httpx.put(ticket["upload"]["url"], content=PNG, timeout=10)
    assert httpx.post(create, json=inputs, headers=KEY, timeout=10).status_code == 200
    forged = {"image": f"{served.url}/_mock/uploads/{'0' * 32}/a.png", "prompt": "a cat"}
    assert httpx.post(create, json=forged, headers=KEY, timeout=10).status_code == 400
    store = served.state.service.uploads
    assert store.serves(ticket["download_url"].replace(served.url, "https://elsewhere"))
    assert not store.serves("https://images.example.com/a.png")


def test_an_upload_in_process_is_put_and_fetched_on_the_providers_own_host() -> None:
    from mockserver.testing import mock_providers

    with mock_providers() as mock, httpx.Client(timeout=10) as client:
        ticket = client.post("https://api.wavespeed.ai/api/v3/media/uploads",
                             json={"filename": "clip.mp4", "size": 4}, headers=KEY).json()["data"]
        assert ticket["upload"]["url"].startswith("https://api.wavespeed.ai/_mock/uploads/")
        assert client.put(ticket["upload"]["url"], content=b"moov").status_code == 200
        fetched = client.get(ticket["download_url"])
        assert fetched.content == b"moov" and fetched.headers["content-type"] == "video/mp4"
        mock.reset()
        assert client.get(ticket["download_url"]).status_code == 404


def test_the_upload_route_takes_bodies_up_to_the_upload_limit_not_the_json_limit(
    served: Any,
) -> None:
    from mockserver.http.routing import ProviderRoute

    [route] = [r for r in served.app.router.routes
               if isinstance(r, ProviderRoute) and r.prefix == "/wavespeed"]
    route.limit, route.upload_limit = 1000, 100_000  # contract: 10 MiB and 100 MiB
    base = f"{served.url}/wavespeed/api/v3"
    upload = httpx.post(f"{base}/media/upload/binary", files={"file": ("a.bin", b"x" * 5000)},
                        headers=KEY, timeout=10)
    assert upload.status_code == 200, upload.text
    create = httpx.post(f"{base}/wavespeed-ai/wan-2.2/image-to-video",
                        json={"image": "https://images.example.com/a.png", "prompt": "x" * 5000},
                        headers=KEY, timeout=10)
    assert create.status_code == 413 and "limit 1000 bytes" in create.json()["message"]
    huge = httpx.post(f"{base}/media/upload/binary", files={"file": ("a.bin", b"x" * 200_000)},
                      headers=KEY, timeout=10)
    assert huge.status_code == 413


@pytest.mark.parametrize("filename", ["..", ".", "dir/.."])
def test_a_file_named_like_a_dot_segment_still_gets_a_url_that_serves_it(
    served: Any, filename: str,
) -> None:
    ticket = httpx.post(f"{served.url}/wavespeed/api/v3/media/uploads",
                        json={"filename": filename, "size": 3}, headers=KEY,
                        timeout=10).json()["data"]
    assert ticket["download_url"].endswith("/upload")
    assert httpx.put(ticket["upload"]["url"], content=b"abc", timeout=10).status_code == 200
    assert httpx.get(ticket["download_url"], timeout=10).content == b"abc"
