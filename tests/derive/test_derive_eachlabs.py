"""Eachlabs page parser: flattened markdown tables, pricing rules, title, full derivation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.derive.common import DeriveError, ParamRow, SourceDocument
from mockserver.providers.eachlabs import documents as eachlabs

SOURCES = Path(__file__).resolve().parents[2] / "contracts" / "sources" / "eachlabs"

HEADER = (
    "| Parameter | Type | Required | Default | Constraints | Description | "
    "|-----------|------|----------|---------|-------------|-------------|"
)


def test_flattened_rows_with_odd_spacing() -> None:
    body = (
        "Input Schema |Parameter|Type|  Required |Default|Constraints  |   Description|"
        "|---|:---:|---|---|---|---|"
        "   |  prompt |string|  Yes |-|   -   |The text. Max 800 characters.  |"
        "|seed|INTEGER|No|3|1 ~ 9|"
        "A seed | a pipe inside the description.|"
        " | resolution | string | No | 720p | 480p,720p | Resolution. |  "
    )
    assert eachlabs.parse_param_table(body) == [
        ParamRow("prompt", "string", True, "-", "-", "The text. Max 800 characters."),
        ParamRow("seed", "integer", False, "3", "1 ~ 9", "A seed | a pipe inside the description."),
        ParamRow("resolution", "string", False, "720p", "480p,720p", "Resolution."),
    ]


def test_rows_with_line_breaks_read_the_same() -> None:
    flat = (
        f"{HEADER} | prompt | string | Yes | - | - | Max 800 characters. |"
        ' | resolution | string | No | 1080P | ["720P","1080P"] | Output. |'
    )
    lines = flat.replace("| |", "|\n|")
    assert eachlabs.parse_param_table(flat) == eachlabs.parse_param_table(lines)
    assert len(eachlabs.parse_param_table(lines)) == 2


def test_missing_header_is_an_error() -> None:
    with pytest.raises(DeriveError, match="header"):
        eachlabs.parse_param_table("| Name | Type | Description | |---|---|---| | a | string | x |")


def test_unreadable_row_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(DeriveError, match="cannot read a row"):
        eachlabs.parse_param_table(f"{HEADER} | prompt | text | Yes | - | - | x |")


def test_pricing_rules_rows() -> None:
    body = (
        "- **Charge Type:** dynamic ### Pricing Rules | Condition | Pricing | | --- | --- | "
        '| resolution == "720P" | 720P pricing: $0.10/sec | | Rule 2 | 1080P pricing: $0.15/sec |'
    )
    assert eachlabs.parse_pricing_rows(body) == [
        eachlabs.PricingRow('resolution == "720P"', "720P pricing: $0.10/sec"),
        eachlabs.PricingRow("Rule 2", "1080P pricing: $0.15/sec"),
    ]


@pytest.mark.parametrize(
    ("heading", "intro"),
    [
        ("Alibaba | Wan 2.7 | Image to Video", "Wan 2.7 Image-to-Video generates"),
        ("Wan | 2.5 | Preview | Image to Video", "Wan 2.5 Preview is a model"),
        ("Wan | v2.2 A14B | Image to Video | Turbo", "WAN 2.2 A14B Image to Video Turbo"),
    ],
)
def test_title_is_cut_from_the_glued_intro(heading: str, intro: str) -> None:
    assert eachlabs.split_title(f"{heading} {intro}")[0] == heading


def derive(name: str, text: str | None = None) -> dict[str, object]:
    data = (SOURCES / name).read_bytes() if text is None else text.encode()
    return eachlabs.derive(SourceDocument("eachlabs", name, data, SOURCES / name))


def test_whole_page() -> None:
    contract = derive("wan-2-5-preview-image-to-video.txt")
    assert contract["model_id"] == "wan-2-5-preview-image-to-video"
    assert contract["version"] == "0.0.1"
    assert contract["estimated_processing_seconds"] == 60
    assert contract["example_request_path"] == "/v1/prediction/"
    provenance = contract["provenance"]
    assert isinstance(provenance, dict)
    assert provenance["/input_schema/properties/prompt/maxLength"] == (
        'description of prompt: "Max 800 characters."'
    )
    # The string-typed duration: default coerced to the declared type, and said so.
    assert (
        "coerced to the declared type string"
        in provenance["/input_schema/properties/duration/default"]
    )


def test_unknown_pricing_field_is_an_error() -> None:
    text = (SOURCES / "alibaba-wan-2-7-image-to-video.txt").read_text()
    with pytest.raises(DeriveError, match="unknown parameter 'quality'"):
        derive("x.txt", text.replace('resolution == "720P"', 'quality == "720P"'))


def test_example_model_must_match_slug() -> None:
    text = (SOURCES / "alibaba-wan-2-7-image-to-video.txt").read_text()
    with pytest.raises(DeriveError, match="Model Slug"):
        derive("x.txt", text.replace('"model": "alibaba-wan-2-7-image-to-video"', '"model": "x"'))
