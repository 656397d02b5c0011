"""WaveSpeed rendered model page -> model contract.

The page is the text of a rendered web page: line breaks survive, tables are
one markdown row per line. Three pieces carry the contract: the "Request
Parameters" table (``| Parameter | Type | Required | Default | Range |
Description |``), the "Pricing" table (duration rows x resolution columns)
and the "Submit the task" curl example, whose URL path names the model and
whose ``--data-raw`` body is a JSON example.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from mockserver.derive.common import (
    Contract,
    DeriveError,
    ParamRow,
    Provenance,
    SourceDocument,
    coerce,
    is_separator_row,
    mark_file_urls,
    markdown_row,
    model_contract,
    output_type_from_title,
    parse_number,
    pointer,
    schema_from_rows,
)

FORMAT = "wavespeed-page"
PARAM_HEADER = ["parameter", "type", "required", "default", "range", "description"]
API_PREFIX = "/api/v3/"

_CURL_POST_RE = re.compile(r"--request\s+POST\s+[\"'](?P<url>https?://[^\"']+)[\"']")
_DATA_RAW_RE = re.compile(r"--data-raw\s+'(?P<body>.*?)'", re.DOTALL)
_RESOLUTION_HEADER_RE = re.compile(r"\((?P<resolution>\d+p)\)")
_DURATION_CELL_RE = re.compile(r"^(?P<n>\d+)\s*s(?:ec(?:onds?)?)?$")
_PRICE_CELL_RE = re.compile(r"^\$\s*(?P<amount>\d+(?:\.\d+)?)$")


def table_after(lines: list[str], start: int) -> tuple[list[str], list[list[str]], int]:
    """The markdown table starting at or after line ``start``: (header, rows, line after it)."""
    index = start
    while index < len(lines) and markdown_row(lines[index]) is None:
        index += 1
    header = markdown_row(lines[index]) if index < len(lines) else None
    if header is None:
        raise DeriveError(f"no table after line {start + 1}")
    index += 1
    rows: list[list[str]] = []
    while index < len(lines):
        cells = markdown_row(lines[index])
        if cells is None:
            break
        if not is_separator_row(cells):
            rows.append(cells)
        index += 1
    return header, rows, index


def _line_index(lines: list[str], title: str) -> int:
    for index, line in enumerate(lines):
        if line.strip() == title:
            return index
    raise DeriveError(f'no line "{title}" on the page')


def parse_param_rows(lines: list[str]) -> list[ParamRow]:
    """Rows of the Request Parameters table.

    Rendering quirk: where the Range cell is empty the page drops it, and
    the description lands in the Range column with an empty cell after it
    (``| image | string | Yes | - | The image for generating the output. | |``).
    A Range cell that reads as a sentence (ends in ".") while Description is
    empty is therefore taken as the description; real ranges never end in ".".
    """
    header, rows, _ = table_after(lines, _line_index(lines, "Request Parameters"))
    if [cell.lower() for cell in header] != PARAM_HEADER:
        raise DeriveError(f"Request Parameters table has columns {header}, expected {PARAM_HEADER}")
    result: list[ParamRow] = []
    for cells in rows:
        if len(cells) != len(PARAM_HEADER):
            raise DeriveError(f"Request Parameters row {cells} does not have 6 cells")
        name, declared, required, default, range_cell, description = cells
        source = "Description"
        if not description and range_cell.endswith("."):
            range_cell, description = "", range_cell
            source = "Range cell (holds the description: the page dropped the empty Range cell)"
        if required.lower() not in ("yes", "no"):
            raise DeriveError(f"Request Parameters row {name}: Required is {required!r}")
        result.append(
            ParamRow(
                name,
                declared.lower(),
                required.lower() == "yes",
                default,
                range_cell,
                description,
                source,
            )
        )
    return result


def parse_pricing(
    lines: list[str], schema: dict[str, Any], provenance: Provenance
) -> dict[str, Any]:
    """The duration x resolution price table as cells; header ``832×480 (480p)`` means ``480p``."""
    header, rows, _ = table_after(lines, _line_index(lines, "Pricing"))
    if not header or header[0].lower() != "duration":
        raise DeriveError(f"Pricing table starts with {header[:1]}, expected Duration")
    properties = schema["properties"]
    resolutions: list[Any] = []
    for column in header[1:]:
        found = _RESOLUTION_HEADER_RE.search(column)
        if found is None:
            raise DeriveError(f"Pricing column {column!r} names no resolution like (480p)")
        declared = properties.get("resolution", {}).get("type", "string")
        resolutions.append(coerce(found["resolution"], declared))
    cells: list[dict[str, Any]] = []
    for row in rows:
        duration_cell = _DURATION_CELL_RE.match(row[0])
        if duration_cell is None or len(row) != len(header):
            raise DeriveError(f"Pricing row {row} is not '| <n> s | $price | ... |'")
        duration = coerce(duration_cell["n"], properties.get("duration", {}).get("type", "integer"))
        for column, resolution, price_text in zip(header[1:], resolutions, row[1:], strict=True):
            price = _PRICE_CELL_RE.match(price_text)
            if price is None:
                raise DeriveError(f"Pricing cell {price_text!r} is not a $ amount")
            where = pointer("pricing", "cells", len(cells))
            provenance.add(
                where, f'Pricing table, row "{row[0]}", column "{column}": "{price_text}"'
            )
            cells.append(
                {
                    "duration": duration,
                    "resolution": resolution,
                    "price": parse_number(price["amount"]),
                }
            )
    provenance.add(
        "/pricing/kind", "Pricing table: Duration rows x resolution columns, price per job"
    )
    return {
        "currency": "USD",
        "kind": "table",
        "dimensions": ["duration", "resolution"],
        "cells": cells,
    }


def derive(document: SourceDocument) -> Contract:
    """Derive the model contract of the WaveSpeed page."""
    text = document.text
    lines = text.splitlines()
    provenance = Provenance()

    title = next((line.strip() for line in lines if line.strip()), "")
    if not title:
        raise DeriveError("the page is empty")
    provenance.add("/title", f"first line of the page: {title}")
    output_type = output_type_from_title(title)
    provenance.add("/output_type", f'title "{title}"')
    provenance.add("/version", "absent: the page names no model version")
    provenance.add("/estimated_processing_seconds", "absent: the page gives no processing time")

    post = _CURL_POST_RE.search(text)
    body = _DATA_RAW_RE.search(text)
    if post is None or body is None:
        raise DeriveError("no `curl --request POST \"<url>\" ... --data-raw '<json>'` example")
    path = urlsplit(post["url"]).path
    if not path.startswith(API_PREFIX):
        raise DeriveError(f"submit URL {post['url']!r} is not under {API_PREFIX}")
    model_id = path[len(API_PREFIX) :]
    provenance.add("/model_id", f'Submit Task curl URL "{post["url"]}", path after {API_PREFIX}')
    provenance.add("/example_request_path", f'Submit Task curl URL "{post["url"]}"')
    try:
        example = json.loads(body["body"])
    except json.JSONDecodeError as error:
        raise DeriveError(f"the --data-raw body is not JSON ({error})") from error
    provenance.add(
        "/example_request",
        "Submit Task curl --data-raw body (as documented it omits the required image and prompt)",
    )

    schema = schema_from_rows(
        parse_param_rows(lines),
        provenance,
        table="Request Parameters table",
        constraints_column="Range",
    )
    provenance.add(
        "/input_schema",
        "the whole request body (WaveSpeed has no input wrapper); transport fields "
        "(webhook, enable_sync_mode) are not model inputs and are not listed",
    )
    mark_file_urls(schema, text, provenance)
    pricing = parse_pricing(lines, schema, provenance)

    return model_contract(
        document=document,
        source_format=FORMAT,
        model_id=model_id,
        title=title,
        version=None,
        output_type=output_type,
        estimated_processing_seconds=None,
        input_schema=schema,
        pricing=pricing,
        example_request=example,
        example_request_path=path,
        provenance=provenance,
    )
