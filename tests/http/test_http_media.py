"""/_mock/media: a real MP4, HEAD and Range as players use them."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import need_tool

from mockserver.http.media import parse_range, sample_video


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(type, offset of payload, end) of each ISO-BMFF box in data[start:end]."""
    end = len(data) if end is None else end
    boxes = []
    offset = start
    while offset < end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        assert size >= header, f"bad box size {size} at {offset}"
        boxes.append((kind.decode("latin-1"), offset + header, offset + size))
        offset += size
    assert offset == end, "boxes do not tile the file"
    return boxes


def test_sample_is_a_real_mp4_by_its_box_structure() -> None:
    data = sample_video()
    assert 1_000 < len(data) < 100_000
    top = _boxes(data)
    kinds = [kind for kind, _, _ in top]
    assert kinds[0] == "ftyp"
    assert "moov" in kinds and "mdat" in kinds
    assert kinds.index("moov") < kinds.index("mdat")  # faststart: players can begin at once
    _, payload, _ = top[0]
    brand = data[payload:payload + 4].decode()
    assert brand in {"isom", "mp42", "mp41", "avc1", "iso2"}
    moov = next(box for box in top if box[0] == "moov")
    inner = [kind for kind, _, _ in _boxes(data, moov[1], moov[2])]
    assert "mvhd" in inner and "trak" in inner
    mdat = next(box for box in top if box[0] == "mdat")
    assert mdat[2] - mdat[1] > 500  # real frames, not an empty box


def test_sample_plays_according_to_ffprobe() -> None:
    ffprobe = need_tool("ffprobe")
    path = Path(__file__).parents[2] / "mockserver" / "assets" / "sample.mp4"
    result = subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    info = json.loads(result.stdout)
    [stream] = info["streams"]
    assert stream["codec_type"] == "video"
    assert stream["codec_name"] == "h264"
    assert float(info["format"]["duration"]) > 1


def test_get_serves_the_whole_file(fake_client: httpx.Client) -> None:
    reply = fake_client.get("/_mock/media/0b6c1d3e-job.mp4")
    assert reply.status_code == 200
    assert reply.content == sample_video()
    assert reply.headers["content-type"] == "video/mp4"
    assert reply.headers["accept-ranges"] == "bytes"
    assert int(reply.headers["content-length"]) == len(sample_video())


def test_head_has_headers_and_no_body(fake_client: httpx.Client) -> None:
    reply = fake_client.head("/_mock/media/x.mp4")
    assert reply.status_code == 200
    assert reply.content == b""
    assert int(reply.headers["content-length"]) == len(sample_video())


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", None, None),
     ("bytes=10-999999", 10, None)],
)
def test_range_requests(
    fake_client: httpx.Client, header: str, first: int | None, last: int | None
) -> None:
    data = sample_video()
    size = len(data)
    if first is None:
        first = size - 50
    if last is None:
        last = size - 1
    reply = fake_client.get("/_mock/media/x.mp4", headers={"range": header})
    assert reply.status_code == 206
    assert reply.content == data[first:last + 1]
    assert reply.headers["content-range"] == f"bytes {first}-{last}/{size}"


def test_unsatisfiable_range_is_416(fake_client: httpx.Client) -> None:
    size = len(sample_video())
    reply = fake_client.get("/_mock/media/x.mp4", headers={"range": f"bytes={size}-"})
    assert reply.status_code == 416
    assert reply.headers["content-range"] == f"bytes */{size}"


def test_if_range_with_another_etag_sends_the_whole_file(fake_client: httpx.Client) -> None:
    reply = fake_client.get(
        "/_mock/media/x.mp4", headers={"range": "bytes=0-9", "if-range": '"old"'}
    )
    assert reply.status_code == 200
    etag = reply.headers["etag"]
    reply = fake_client.get("/_mock/media/x.mp4", headers={"range": "bytes=0-9", "if-range": etag})
    assert reply.status_code == 206


def test_bad_names_and_methods(fake_client: httpx.Client) -> None:
    assert fake_client.get("/_mock/media/x.gif").status_code == 404
    assert fake_client.get("/_mock/media/../x.mp4").status_code == 404
    assert fake_client.post("/_mock/media/x.mp4").status_code == 405


def test_parse_range_edge_cases() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: whole file
    assert parse_range("items=0-1", 100) is None
    assert parse_range("bytes=-0", 100) is False
    assert parse_range("bytes=5-2", 100) is False
    assert parse_range("bytes=-500", 100) == (0, 99)
