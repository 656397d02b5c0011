"""Eachlabs model pages -> model contracts.

The pages are markdown whose line breaks were lost in scraping: headings,
bullet lists and tables all run together on one line, for example
``## Input Schema | Parameter | Type | ... | |-----|...| | prompt | string | Yes
| - | - | The text ... | | image_url | ...``. So nothing here relies on
newlines: sections are cut at ``## `` markers, and table rows are found by
their *shape* (``| name | <known type> | Yes/No | default | constraints |
description |``), with the description running up to the next row's start.
The same code reads a page whose line breaks survived.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mockserver.derive.common import (
    TABLE_TYPES,
    Contract,
    DeriveError,
    ParamRow,
    Provenance,
    SourceDocument,
    coerce,
    describe,
    mark_file_urls,
    model_contract,
    parse_number,
    pointer,
    schema_from_rows,
)

FORMAT = "eachlabs-page"

# A level-2 heading; "###" does not match because the character after "##"
# must be whitespace, and a preceding "#" is not whitespace.
_H2_RE = re.compile(r"(?:^|(?<=\s))##\s+")
_TYPES = "|".join(sorted(TABLE_TYPES))
_ROW_START = (
    r"\|\s*(?P<name>[A-Za-z_][\w.]*)\s*\|\s*(?P<type>" + _TYPES + r")\s*\|"
    r"\s*(?P<required>Yes|No)\s*\|"
)
_ROW_RE = re.compile(
    _ROW_START
    + r"\s*(?P<default>[^|]*?)\s*\|\s*(?P<constraints>[^|]*?)\s*\|\s*(?P<description>.*?)\s*\|"
    + r"(?=\s*(?:\|\s*[A-Za-z_][\w.]*\s*\|\s*(?:"
    + _TYPES
    + r")\s*\||$))",
    re.IGNORECASE | re.DOTALL,
)
_HEADER_RE = re.compile(
    r"\|\s*Parameter\s*\|\s*Type\s*\|\s*Required\s*\|\s*Default\s*\|\s*Constraints\s*\|"
    r"\s*Description\s*\|\s*(?:\|\s*:?-{3,}:?\s*)+\|",
    re.IGNORECASE,
)
_INFO_RE = re.compile(r"\*\*(?P<key>[^*:]+):\*\*\s*(?P<value>.*?)\s*(?=\s-\s\*\*|$)", re.DOTALL)
_PRICE_ROW_RE = re.compile(r"\|\s*(?P<condition>[^|]*?)\s*\|\s*(?P<pricing>[^|]*?)\s*\|")
_CONDITION_RE = re.compile(
    r'^(?P<field>[A-Za-z_]\w*)\s*(?P<op>==|eq_i|eq)\s*(?P<value>"[^"]*"|\S+)$'
)
_FALLBACK_RE = re.compile(r"^Rule\s+\d+$", re.IGNORECASE)
_PRICE_RE = re.compile(r"\$\s*(?P<amount>\d+(?:\.\d+)?)\s*/\s*(?P<unit>sec(?:ond)?s?|s)\b")
_CURL_URL_RE = re.compile(r"curl\s+-X\s+POST\s+(?P<url>https?://\S+)")
_CURL_BODY_RE = re.compile(r"\s-d\s+'(?P<body>.*?)'", re.DOTALL)
_SECONDS_RE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)$", re.IGNORECASE)


@dataclass(frozen=True)
class PricingRow:
    """One ``| Condition | Pricing |`` row, as written."""

    condition: str
    pricing: str


@dataclass(frozen=True)
class EachlabsPage:
    """The parts of an Eachlabs page the contract needs, still as text."""

    heading: str
    info: dict[str, str]
    params: list[ParamRow]
    pricing_rows: list[PricingRow]
    example_url: str
    example_body: str


def section(text: str, title: str) -> str:
    """The body of the level-2 section whose heading starts with ``title``."""
    for part in _H2_RE.split(text)[1:]:
        if part.lower().startswith(title.lower()):
            return part[len(title) :]
    raise DeriveError(f'section "## {title}" not found')


def parse_param_table(body: str) -> list[ParamRow]:
    """Rows of the Input Schema table, from flattened (or normal) markdown.

    The header must be exactly Parameter/Type/Required/Default/Constraints/
    Description: a changed layout is an error, not a silent misreading. Every
    character after the header must belong to a row, so a row this parser
    cannot read fails loudly instead of disappearing.
    """
    header = _HEADER_RE.search(body)
    if header is None:
        raise DeriveError(
            "Input Schema table header "
            "| Parameter | Type | Required | Default | Constraints | Description | not found"
        )
    rest = body[header.end() :].strip()
    rows: list[ParamRow] = []
    position = 0
    while position < len(rest):
        match = _ROW_RE.match(rest, position)
        if match is None:
            snippet = rest[position : position + 80]
            raise DeriveError(f"Input Schema table: cannot read a row at {snippet!r}")
        rows.append(
            ParamRow(
                name=match["name"],
                type=match["type"].lower(),
                required=match["required"].lower() == "yes",
                default=match["default"],
                constraints=match["constraints"],
                description=match["description"],
            )
        )
        position = match.end()
        while position < len(rest) and rest[position].isspace():
            position += 1
    if not rows:
        raise DeriveError("Input Schema table has no rows")
    return rows


def parse_pricing_rows(body: str) -> list[PricingRow]:
    """Rows of the ``### Pricing Rules`` table (empty when the page has none)."""
    marker = re.search(r"###\s*Pricing Rules", body)
    if marker is None:
        return []
    table = body[marker.end() :]
    rows: list[PricingRow] = []
    for match in _PRICE_ROW_RE.finditer(table):
        condition, pricing = match["condition"], match["pricing"]
        if condition.lower() == "condition" or set(condition) <= set("-: "):
            continue  # header and separator
        rows.append(PricingRow(condition, pricing))
    return rows


def parse_page(text: str) -> EachlabsPage:
    """Read the raw parts of an Eachlabs page (no interpretation yet)."""
    first = _H2_RE.split(text)[0].strip()
    if not first.startswith("#"):
        raise DeriveError("page does not start with a '# ' title")
    info = {
        m["key"].strip(): m["value"].strip()
        for m in _INFO_RE.finditer(section(text, "API Information"))
    }
    example = section(text, "Example Request")
    url = _CURL_URL_RE.search(example)
    body = _CURL_BODY_RE.search(example)
    if url is None or body is None:
        raise DeriveError("Example Request: no `curl -X POST <url> ... -d '<json>'` found")
    return EachlabsPage(
        heading=first.lstrip("#").strip(),
        info=info,
        params=parse_param_table(section(text, "Input Schema")),
        pricing_rows=parse_pricing_rows(section(text, "Pricing")),
        example_url=url["url"],
        example_body=body["body"],
    )


def split_title(heading: str) -> tuple[str, str]:
    """Separate the page title from the intro sentence that the lost line break glued on.

    The title is ``A | B | C``; the intro that follows starts by naming the
    model again (``... | Image to Video Wan 2.7 Image-to-Video generates``).
    So the title's last part ends where a word that opens an earlier title
    part reappears. Returns (title, the evidence used).
    """
    parts = [p.strip() for p in heading.split("|")]
    last = parts[-1]
    openers = {p.split()[0].lower() for p in parts[:-1] if p.split()}
    words = list(re.finditer(r"\S+", last))
    for word in words[1:]:
        if word.group(0).lower() in openers:
            return (
                " | ".join([*parts[:-1], last[: word.start()].strip()]),
                f'page heading "{" | ".join(parts)[:120]}", cut where the intro repeats '
                f'"{word.group(0)}"',
            )
    return " | ".join(parts), "page heading (no intro sentence found after it)"


def _pricing(
    page: EachlabsPage, schema: dict[str, Any], provenance: Provenance
) -> dict[str, Any] | None:
    """Per-second price rules from the Pricing Rules table (null when the page has none)."""
    if not page.pricing_rows:
        provenance.add("/pricing", "the page has no Pricing Rules table")
        return None
    properties: dict[str, Any] = schema["properties"]
    rules: list[dict[str, Any]] = []
    for index, row in enumerate(page.pricing_rows):
        where = pointer("pricing", "rules", index)
        price = _PRICE_RE.search(row.pricing)
        if price is None:
            raise DeriveError(f"Pricing Rules: no per-second price in {row.pricing!r}")
        label = row.pricing[: price.start()].rstrip(" :")
        when: dict[str, Any] | None
        if _FALLBACK_RE.match(row.condition):
            when = None
            provenance.add(f"{where}/when", f'Pricing Rules condition "{row.condition}" (no test)')
        else:
            condition = _CONDITION_RE.match(row.condition)
            if condition is None:
                raise DeriveError(f"Pricing Rules: cannot read condition {row.condition!r}")
            field = condition["field"]
            if field not in properties:
                raise DeriveError(f"Pricing Rules: condition on unknown parameter {field!r}")
            raw = condition["value"].strip('"')
            when = {
                "field": field,
                "op": "eq_i" if condition["op"] == "eq_i" else "eq",
                "value": coerce(raw, properties[field]["type"]),
            }
            provenance.add(f"{where}/when", f'Pricing Rules condition "{row.condition}"')
        rules.append(
            {
                "when": when,
                "unit_price": parse_number(price["amount"]),
                "label": label,
                "fallback": when is None,
            }
        )
        provenance.add(f"{where}/unit_price", f'Pricing Rules cell "{row.pricing}"')
        provenance.add(f"{where}/label", f'Pricing Rules cell "{row.pricing}"')
    provenance.add(
        "/pricing/unit", "Pricing Rules prices are written per second ($x/sec, $x/second)"
    )
    quantity = _quantity(properties, provenance)
    return {
        "currency": "USD",
        "kind": "rules",
        "unit": "second",
        "quantity": quantity,
        "rules": rules,
    }


def _quantity(properties: dict[str, Any], provenance: Provenance) -> dict[str, Any]:
    """What the unit price multiplies: the ``duration`` input (as a number) when there is one."""
    duration = properties.get("duration")
    if duration is None:
        provenance.add(
            "/pricing/quantity",
            "the model has no duration parameter; "
            "billed seconds are a provider-contract assumption",
        )
        return {"field": None, "default": None}
    default = duration.get("default")
    number = parse_number(default) if isinstance(default, str) else default
    provenance.add(
        "/pricing/quantity",
        "Input Schema has a duration parameter (seconds); quantity default = its default "
        f"{describe(default)} as a number",
    )
    return {"field": "duration", "default": number}


def derive(document: SourceDocument) -> Contract:
    """Derive the model contract of one Eachlabs page."""
    text = document.text
    page = parse_page(text)
    provenance = Provenance()

    def info(key: str) -> str:
        value = page.info.get(key)
        if value is None:
            raise DeriveError(f"API Information: **{key}:** not found")
        return value

    model_id = info("Model Slug")
    provenance.add("/model_id", f"API Information, Model Slug: {model_id}")
    title, title_evidence = split_title(page.heading)
    provenance.add("/title", title_evidence)
    version = page.info.get("Version")
    provenance.add("/version", f"API Information, Version: {version}" if version else "absent")
    output_type = info("Output Type")
    provenance.add("/output_type", f"API Information, Output Type: {output_type}")
    estimate = page.info.get("Estimated Processing Time")
    seconds: int | float | None = None
    if estimate is None:
        provenance.add("/estimated_processing_seconds", "absent from API Information")
    else:
        found = _SECONDS_RE.match(estimate)
        if found is None:
            raise DeriveError(f"Estimated Processing Time: cannot read {estimate!r}")
        seconds = parse_number(found["n"])
        provenance.add(
            "/estimated_processing_seconds",
            f"API Information, Estimated Processing Time: {estimate}",
        )

    schema = schema_from_rows(
        page.params, provenance, table="Input Schema table", constraints_column="Constraints"
    )
    mark_file_urls(schema, text, provenance)
    pricing = _pricing(page, schema, provenance)

    try:
        example = json.loads(page.example_body)
    except json.JSONDecodeError as error:
        raise DeriveError(f"Example Request: the -d body is not JSON ({error})") from error
    provenance.add("/example_request", "Example Request, the JSON after curl -d")
    path = urlsplit(page.example_url).path
    provenance.add("/example_request_path", f"Example Request, curl -X POST {page.example_url}")
    if isinstance(example, dict) and example.get("model") != model_id:
        raise DeriveError(
            f"Example Request sends model {example.get('model')!r}, "
            f"but the Model Slug is {model_id!r}"
        )

    return model_contract(
        document=document,
        source_format=FORMAT,
        model_id=model_id,
        title=title,
        version=version,
        output_type=output_type,
        estimated_processing_seconds=seconds,
        input_schema=schema,
        pricing=pricing,
        example_request=example,
        example_request_path=path,
        provenance=provenance,
    )
