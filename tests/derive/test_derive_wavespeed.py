"""WaveSpeed page parser: Range column, shifted rows, pricing table, curl example."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.derive.common import DeriveError, Provenance, SourceDocument
from mockserver.providers.wavespeed import documents as wavespeed

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "contracts"
    / "sources"
    / "wavespeed"
    / "wan-2.2-image-to-video.txt"
)

TABLE = """Request Parameters
| Parameter | Type | Required | Default | Range | Description |
|---|---|---|---|---|---|
| image | string | Yes | - | The image for generating the output. | |
| last_image | string | No | - | - | The last image for generating the output. |
| seed | integer | No | -1 | -1 ~ 2147483647 | The random seed. |
| duration | integer | No | 5 | 5, 8 | Seconds. |
Response Parameters
"""


def test_shifted_row_puts_description_back() -> None:
    rows = wavespeed.parse_param_rows(TABLE.splitlines())
    assert [(r.name, r.constraints, r.description) for r in rows] == [
        ("image", "", "The image for generating the output."),
        ("last_image", "-", "The last image for generating the output."),
        ("seed", "-1 ~ 2147483647", "The random seed."),
        ("duration", "5, 8", "Seconds."),
    ]
    assert rows[0].description_source.startswith("Range cell")


def test_wrong_header_is_an_error() -> None:
    with pytest.raises(DeriveError, match="columns"):
        wavespeed.parse_param_rows(TABLE.replace("| Range |", "| Limits |").splitlines())


def test_pricing_columns_map_to_resolutions() -> None:
    lines = """Pricing
| Duration | 832×480 (480p) | 1280×720 (720p) |
|---|---|---|
| 5 s | $0.15 | $0.30 |
| 8 s | $0.24 | $0.48 |
Authentication""".splitlines()
    schema = {"properties": {"duration": {"type": "integer"}, "resolution": {"type": "string"}}}
    provenance = Provenance()
    pricing = wavespeed.parse_pricing(lines, schema, provenance)
    assert pricing["cells"][1] == {"duration": 5, "resolution": "720p", "price": 0.3}
    assert provenance.entries["/pricing/cells/1"] == (
        'Pricing table, row "5 s", column "1280×720 (720p)": "$0.30"'
    )


def test_pricing_column_without_resolution_is_an_error() -> None:
    lines = ["Pricing", "| Duration | 832×480 |", "|---|---|", "| 5 s | $0.15 |"]
    with pytest.raises(DeriveError, match="names no resolution"):
        wavespeed.parse_pricing(lines, {"properties": {}}, Provenance())


def test_whole_page() -> None:
    contract = wavespeed.derive(
        SourceDocument("wavespeed", SOURCE.name, SOURCE.read_bytes(), SOURCE)
    )
    assert contract["model_id"] == "wavespeed-ai/wan-2.2/image-to-video"
    assert contract["example_request"] == {"resolution": "480p", "duration": 5, "seed": -1}
    assert contract["title"] == "Wan 2.2 Image To Video"
    assert contract["version"] is None
    assert contract["estimated_processing_seconds"] is None
