"""Pieces shared by the three document parsers.

A parser turns one provider document into a *model contract* (a plain JSON
dict, see ARCHITECTURE.md "Model contract"). The helpers here hold the rules
that must be the same for every provider: how a table cell or a prose phrase
becomes a JSON Schema keyword, how values are coerced to the declared type,
which string parameters are file URLs, and how every derived fact is tied to
the text it came from (the ``provenance`` map, JSON pointer -> phrase).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSONSchema = dict[str, Any]
Contract = dict[str, Any]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
GENERATED_BY = "mockserver contracts build"

# Types a parameter table may declare; anything else is a parse failure, so a
# provider changing its vocabulary shows up as an error rather than a guess.
TABLE_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})


class DeriveError(Exception):
    """A document could not be turned into a contract (missing, or not in the expected shape)."""


def contracts_root() -> Path:
    """Where the contracts live: ``$MOCKSERVER_CONTRACTS``, the wheel copy, or ``<repo>/contracts``.

    Deliberately a copy of ``mockserver.contracts.contracts_root`` so that the
    deriver does not depend on the runtime loader (they are built in parallel).
    """
    env = os.environ.get("MOCKSERVER_CONTRACTS")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent.parent
    bundled = package / "_contracts"
    if bundled.is_dir():
        return bundled
    return package.parent / "contracts"


@dataclass(frozen=True)
class SourceDocument:
    """One provider document as read from disk.

    ``rel_path`` is the stable name written into contracts
    (``contracts/sources/<provider>/<file>``) even when the bytes come from a
    ``--source`` copy elsewhere: the contract describes that document.
    """

    provider: str
    filename: str
    data: bytes
    origin: Path

    @property
    def slug(self) -> str:
        """File stem: the model contract's name."""
        return self.filename[: -len(".txt")] if self.filename.endswith(".txt") else self.filename

    @property
    def rel_path(self) -> str:
        """Repository-relative path of the committed document."""
        return f"contracts/sources/{self.provider}/{self.filename}"

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes the contract was derived from."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def text(self) -> str:
        """The document decoded as UTF-8 (a decoding failure is a parse failure)."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DeriveError(f"{self.origin}: not UTF-8 text ({error})") from error


def dump_contract(contract: Contract) -> str:
    """Serialise deterministically: the exact bytes ``build`` writes and ``check`` compares."""
    return json.dumps(contract, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) from unescaped reference tokens."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Provenance:
    """JSON pointer -> the phrase or table cell a fact came from."""

    entries: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, phrase: str) -> None:
        """Record (or extend) the origin of the fact at ``where``."""
        phrase = " ".join(phrase.split())  # flattened pages carry odd whitespace
        if where in self.entries and phrase not in self.entries[where]:
            self.entries[where] = f"{self.entries[where]}; {phrase}"
        else:
            self.entries[where] = phrase


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------

_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_number(text: str) -> int | float:
    """``"5,000"`` -> 5000, ``"0.5"`` -> 0.5; integers stay ``int`` so output is stable."""
    cleaned = text.strip().replace(",", "").replace("−", "-")  # U+2212 minus on rendered pages
    if _INT_RE.match(cleaned):
        return int(cleaned)
    if _NUM_RE.match(cleaned):
        value = float(cleaned)
        return int(value) if value.is_integer() and "e" not in cleaned.lower() else value
    raise DeriveError(f"not a number: {text!r}")


def coerce(value: Any, declared: str) -> Any:
    """Coerce a value read from a document to the parameter's declared JSON type.

    Table cells are text, so ``5`` in the Default column of a ``string``
    parameter means ``"5"`` and in an ``integer`` one means ``5``. A value
    that cannot be read as the declared type is a document error.
    """
    if declared == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
    elif declared in ("integer", "number"):
        if isinstance(value, bool):
            raise DeriveError(f"{value!r} is not of type {declared}")
        number = parse_number(value) if isinstance(value, str) else value
        if isinstance(number, int | float):
            if declared == "integer":
                if isinstance(number, float) and not number.is_integer():
                    raise DeriveError(f"{value!r} is not of type integer")
                return int(number)
            return number
    elif declared == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif declared in ("array", "object"):
        parsed = json.loads(value) if isinstance(value, str) else value
        if isinstance(parsed, list if declared == "array" else dict):
            return parsed
    raise DeriveError(f"{value!r} is not of type {declared}")


def describe(value: Any) -> str:
    """JSON spelling of a value, for provenance phrases."""
    return json.dumps(value, ensure_ascii=False)


def unquote(text: str) -> str:
    """Strip one pair of surrounding quotes ("x", 'x', “x”)."""
    text = text.strip()
    if len(text) >= 2 and text[0] + text[-1] in ('""', "''", "“”", "``"):
        return text[1:-1]
    return text


def is_blank_cell(text: str) -> bool:
    """Tables write "nothing here" as ``-`` (or leave the cell empty)."""
    return text.strip() in ("", "-", "—", "–")


# --------------------------------------------------------------------------
# Constraints column (Eachlabs "Constraints", WaveSpeed "Range")
# --------------------------------------------------------------------------

_NUM = r"[-+−]?\d[\d,]*(?:\.\d+)?"  # "-" first: not a range in the class
_RANGE_CELL_RE = re.compile(rf"^\s*({_NUM})\s*(?:~|–|to|-)\s*({_NUM})\s*$")


def parse_constraint_cell(cell: str, declared: str) -> dict[str, Any]:
    """Read a Constraints/Range cell: ``2 ~ 9``/``2-9`` is a range, a list is an enum.

    Lists come as JSON (``["720P","1080P"]``) or bare comma-separated
    (``480p,720p,1080p``, ``5, 8``); values are coerced to the declared type.
    """
    if is_blank_cell(cell):
        return {}
    text = cell.strip()
    if declared in ("integer", "number"):
        match = _RANGE_CELL_RE.match(text)
        if match:
            low, high = (coerce(g, declared) for g in match.groups())
            return {"minimum": low, "maximum": high}
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            raise DeriveError(
                f"constraint {cell!r} looks like JSON but is not ({error})"
            ) from error
        if not isinstance(items, list):
            raise DeriveError(f"constraint {cell!r} is not a list")
    else:
        items = [unquote(part) for part in text.split(",") if part.strip()]
    return {"enum": [coerce(item, declared) for item in items]}


# --------------------------------------------------------------------------
# Limits written in prose
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProseFact:
    """One schema keyword read from a description sentence."""

    keyword: str
    value: Any
    phrase: str


_MAX_CHARS_RE = re.compile(
    r"\bMax(?:imum)?(?:\s+length)?\s*:?\s*(\d[\d,]*)\s*characters\b\.?", re.IGNORECASE
)
_RANGE_PROSE_RE = re.compile(
    rf"\bRange\s*:\s*({_NUM})\s*(?:-|–|~|to)\s*({_NUM})\b\.?", re.IGNORECASE
)
_MIN_MAX_STEP_RE = re.compile(
    rf"\(\s*Min\s*:\s*({_NUM})\s*,\s*Max\s*:\s*({_NUM})\s*(?:,\s*Step\s*:\s*({_NUM})\s*)?\)",
    re.IGNORECASE,
)
_CHOOSE_RE = re.compile(
    r"\bChoose between\s+(\S+?)(?:\s*s)?\s+or\s+(\S+?)(?:\s+seconds?|\s*s)?\b\.?", re.IGNORECASE
)
_VALID_VALUES_RE = re.compile(r"\bValid values\s*:\s*([^.;|]+)", re.IGNORECASE)
_DEFAULT_RE = re.compile(
    r"\bDefault(?: value)?\s*:\s*(\"[^\"]*\"|'[^']*'|“[^”]*”|[^\s.;,)]+)", re.IGNORECASE
)


def prose_facts(description: str, declared: str) -> list[ProseFact]:
    """Schema keywords stated only in a parameter's description.

    Recognised (each phrase kept verbatim for provenance):
    ``Max 800 characters`` / ``Max length: 5000 characters`` -> maxLength
    (strings); ``Range: 2-15`` and ``(Min: 0, Max: 9, Step: 1)`` -> minimum /
    maximum (numbers; a Step becomes multipleOf); ``Choose between 5 or 10
    seconds`` and ``Valid values: a, b`` -> enum; ``Default: 5`` /
    ``Default value: "5"`` -> default. Anything else in prose is left alone:
    file sizes and media durations are not properties of the JSON value.
    """
    facts: list[ProseFact] = []
    if declared == "string":
        for match in _MAX_CHARS_RE.finditer(description):
            facts.append(ProseFact("maxLength", parse_number(match.group(1)), match.group(0)))
    if declared in ("integer", "number"):
        for match in _RANGE_PROSE_RE.finditer(description):
            facts.append(ProseFact("minimum", coerce(match.group(1), declared), match.group(0)))
            facts.append(ProseFact("maximum", coerce(match.group(2), declared), match.group(0)))
        for match in _MIN_MAX_STEP_RE.finditer(description):
            facts.append(ProseFact("minimum", coerce(match.group(1), declared), match.group(0)))
            facts.append(ProseFact("maximum", coerce(match.group(2), declared), match.group(0)))
            if match.group(3) is not None:
                facts.append(ProseFact("multipleOf", parse_number(match.group(3)), match.group(0)))
    for match in _CHOOSE_RE.finditer(description):
        values = [coerce(unquote(g), declared) for g in match.groups()]
        facts.append(ProseFact("enum", values, match.group(0)))
    for match in _VALID_VALUES_RE.finditer(description):
        values = [coerce(unquote(v), declared) for v in match.group(1).split(",") if v.strip()]
        facts.append(ProseFact("enum", values, match.group(0).strip()))
    for match in _DEFAULT_RE.finditer(description):
        facts.append(
            ProseFact("default", coerce(unquote(match.group(1)), declared), match.group(0))
        )
    return facts


def same_value(left: Any, right: Any) -> bool:
    """Equality that tells ``1`` from ``True`` and ``[5, 10]`` from ``[10, 5]`` only by order."""
    return describe(left) == describe(right)


def apply_prose(
    prop: JSONSchema, name: str, base: str, provenance: Provenance, description: str, declared: str
) -> None:
    """Merge the prose facts of one description into a property schema.

    A structured value (table column, OpenAPI keyword) wins over prose: when
    both exist and agree the phrase is added as corroboration; when they
    disagree the structured value is kept and the conflict is written into
    the provenance, so a reviewer (and a drift report) can see it.
    """
    for fact in prose_facts(description, declared):
        where = f"{base}/{fact.keyword}"
        if fact.keyword not in prop:
            prop[fact.keyword] = fact.value
            note = (
                f" (Step {describe(fact.value)} -> multipleOf; "
                f"the declared type {declared} is kept)"
                if fact.keyword == "multipleOf"
                else ""
            )
            provenance.add(where, f'description of {name}: "{fact.phrase}"{note}')
        elif same_value(prop[fact.keyword], fact.value):
            provenance.add(where, f'corroborated by the description: "{fact.phrase}"')
        else:
            provenance.add(
                where,
                f"[CONFLICT] the description says {describe(fact.value)} "
                f'("{fact.phrase}"); the structured value {describe(prop[fact.keyword])} is kept',
            )


# --------------------------------------------------------------------------
# File-URL parameters
# --------------------------------------------------------------------------

# The whole sentence: a dot followed by a non-space ("etc.)") does not end it.
PUBLIC_HTTPS_PHRASE = re.compile(
    r"(?:[^.\n]|\.(?=\S))*\bpublicly[- ]reachable HTTPS URLs only\.", re.IGNORECASE
)
_URL_DESCRIPTION_RE = re.compile(
    r"^\s*(?:The\s+)?URL (?:of|to|for)\b"
    r"|\bFile URL\b"
    r"|\b(?:image|video|audio|frame) for generating\b",
    re.IGNORECASE,
)
_URL_NAME_RE = re.compile(r"(?:_url|Url)$")


def file_url_reason(name: str, description: str) -> str | None:
    """Why a string parameter is a file URL, or None when it is not.

    The rule, applied to every provider alike:
    (a) the name ends in ``_url`` / ``Url`` (``image_url``, ``end_image_url``); or
    (b) the description says it is one: starts with "URL of/to/for"
        (Eachlabs ``first_frame``, ``driving_audio``), mentions "File URL"
        (Apikley), or names an input medium "for generating" (WaveSpeed
        ``image``, ``last_image``: "The image for generating the output.").
    Only input parameters are considered; transport fields such as
    ``webhook_url`` never reach the input schema.
    """
    if _URL_NAME_RE.search(name):
        return f'file-URL rule (a): the name "{name}" ends in _url'
    match = _URL_DESCRIPTION_RE.search(description)
    if match:
        return f'file-URL rule (b): the description says "{match.group(0).strip()}"'
    return None


def mark_file_urls(
    schema: JSONSchema, document_text: str, provenance: Provenance, base: str = "/input_schema"
) -> None:
    """Add ``format: uri`` and ``x-file-url`` to the file-URL string properties of ``schema``.

    The scheme/public requirement is taken from the document when it states
    it (Eachlabs: "publicly-reachable HTTPS URLs only"); otherwise the same
    requirement is assumed and the provenance says so with [GUESS].
    """
    stated = PUBLIC_HTTPS_PHRASE.search(document_text)
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") != "string":
            continue
        reason = file_url_reason(name, str(prop.get("description", "")))
        if reason is None:
            continue
        where = f"{base}{pointer('properties', name)}"
        prop["format"] = "uri"
        provenance.add(f"{where}/format", reason)
        prop["x-file-url"] = {"schemes": ["https"], "public": True}
        if stated:
            phrase = stated.group(0).strip().lstrip("- ")
            provenance.add(f"{where}/x-file-url", f'[SEED] "{phrase}"')
        else:
            provenance.add(
                f"{where}/x-file-url",
                "[GUESS] the document does not say which URL schemes or hosts are accepted; "
                "public HTTPS assumed, as the Eachlabs documents state for the same kind of field",
            )


def check_schema(schema: JSONSchema, origin: str) -> None:
    """Fail the derivation (not a later test) when the produced schema is not valid 2020-12."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise DeriveError(f"{origin}: derived input schema is invalid: {error.message}") from error


def note_defaults_outside_enum(schema: JSONSchema, provenance: Provenance) -> None:
    """Flag (not fix) a documented default that its own enum does not allow."""
    for name, prop in schema.get("properties", {}).items():
        if (
            "default" in prop
            and "enum" in prop
            and not any(same_value(prop["default"], item) for item in prop["enum"])
        ):
            provenance.add(
                pointer("input_schema", "properties", name, "default"),
                f"[CONFLICT] the default {describe(prop['default'])} is not in the enum",
            )


def model_contract(
    *,
    document: SourceDocument,
    source_format: str,
    model_id: str,
    title: str,
    version: str | None,
    output_type: str,
    estimated_processing_seconds: int | float | None,
    input_schema: JSONSchema,
    pricing: dict[str, Any] | None,
    example_request: Any,
    example_request_path: str,
    provenance: Provenance,
) -> Contract:
    """Assemble the top-level contract object in the ARCHITECTURE.md shape."""
    check_schema(input_schema, document.rel_path)
    note_defaults_outside_enum(input_schema, provenance)
    return {
        "contract": "model",
        "generated_by": GENERATED_BY,
        "provider": document.provider,
        "slug": document.slug,
        "model_id": model_id,
        "title": title,
        "version": version,
        "output_type": output_type,
        "estimated_processing_seconds": estimated_processing_seconds,
        "input_schema": input_schema,
        "pricing": pricing,
        "example_request": example_request,
        "example_request_path": example_request_path,
        "source": {"path": document.rel_path, "sha256": document.sha256, "format": source_format},
        "provenance": dict(sorted(provenance.entries.items())),
    }


# --------------------------------------------------------------------------
# Parameter tables (Eachlabs and WaveSpeed share the column layout)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamRow:
    """One row of a ``| Parameter | Type | Required | Default | <limits> | Description |`` table."""

    name: str
    type: str
    required: bool
    default: str
    constraints: str
    description: str
    # Where the description was read from; WaveSpeed rows can be shifted a cell.
    description_source: str = "Description"


def schema_from_rows(
    rows: list[ParamRow], provenance: Provenance, *, table: str, constraints_column: str
) -> JSONSchema:
    """Build the input JSON Schema from parameter rows (types, required, defaults, limits).

    Every keyword gets a provenance entry naming the table, row and column
    (or the description phrase) it came from, and how the text was coerced.
    """
    properties: dict[str, JSONSchema] = {}
    required: list[str] = []
    for row in rows:
        if row.type not in TABLE_TYPES:
            raise DeriveError(f"{table}: parameter {row.name!r} has unknown type {row.type!r}")
        if row.name in properties:
            raise DeriveError(f"{table}: parameter {row.name!r} is listed twice")
        base = pointer("input_schema", "properties", row.name)
        cell = f"{table}, row {row.name}"
        prop: JSONSchema = {"type": row.type}
        provenance.add(f"{base}/type", f'{cell}, Type: "{row.type}"')
        if not is_blank_cell(row.description):
            prop["description"] = " ".join(row.description.split())
            provenance.add(f"{base}/description", f"{cell}, {row.description_source}")
        if row.required:
            provenance.add(
                pointer("input_schema", "required", len(required)), f'{cell}, Required: "Yes"'
            )
            required.append(row.name)
        if not is_blank_cell(row.default):
            value = coerce(unquote(row.default), row.type)
            prop["default"] = value
            provenance.add(
                f"{base}/default",
                f'{cell}, Default: "{row.default.strip()}" read as {describe(value)} '
                f"(coerced to the declared type {row.type})",
            )
        for keyword, value in parse_constraint_cell(row.constraints, row.type).items():
            prop[keyword] = value
            provenance.add(
                f"{base}/{keyword}",
                f'{cell}, {constraints_column}: "{row.constraints.strip()}" read as '
                f"{describe(value)} (items coerced to the declared type {row.type})"
                if keyword == "enum"
                else f'{cell}, {constraints_column}: "{row.constraints.strip()}"',
            )
        apply_prose(prop, row.name, base, provenance, row.description, row.type)
        properties[row.name] = prop
    schema: JSONSchema = {"$schema": SCHEMA_DIALECT, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


_TO_KIND_RE = re.compile(r"\bto[\s-]+(video|image|audio|speech|text|3d)\b", re.IGNORECASE)


def output_type_from_title(title: str) -> str:
    """``"Wan 2.2 Image To Video"`` -> ``"video"``: for pages with no explicit output type."""
    matches = _TO_KIND_RE.findall(title)
    if not matches:
        raise DeriveError(f"cannot tell the output type from the title {title!r}")
    return str(matches[-1]).lower()


def markdown_row(line: str) -> list[str] | None:
    """Cells of a one-line markdown table row, or None when the line is not a row."""
    text = line.strip()
    if not (text.startswith("|") and text.endswith("|")) or len(text) < 2:
        return None
    return [cell.strip() for cell in text[1:-1].split("|")]


def is_separator_row(cells: list[str]) -> bool:
    """``|---|:--:|`` rows."""
    return bool(cells) and all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells)
