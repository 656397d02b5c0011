"""``mockserver drift replay``: golden fixtures pass, edited recordings are flagged by rule."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockserver.cli import run
from mockserver.providers import registry

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def _cli(*argv: str) -> tuple[int, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["drift", "replay", *argv, "--format", "json"], out, err)
    return code, json.loads(out.getvalue())


def _fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return target


def test_golden_fixtures_replay_without_drift() -> None:
    code, report = _cli(*(str(FIXTURES / p) for p in registry.names()))
    assert code == 0, report["findings"]
    assert report["errors"] == []
    assert report["summary"]["by_severity"]["breaking"] == 0
    assert report["summary"]["by_severity"]["behaviour"] == 0
    assert len(report["subjects"]) == len(list(FIXTURES.glob("*/*.json")))
    assert report["skipped"] == {}


def _rename(data: dict[str, Any]) -> None:
    body = data["response"]["body"]
    body["prediction_id"] = body.pop("predictionID")


def _new_word(data: dict[str, Any]) -> None:
    data["response"]["body"]["data"]["status"] = "queued"


def _envelope(data: dict[str, Any]) -> None:
    body = data["response"]["body"]
    body["msg"] = body.pop("message")


def _http_status_instead_of_body(data: dict[str, Any]) -> None:
    data["response"]["status"] = 401


def _code_in_body(data: dict[str, Any]) -> None:
    data["response"]["status"] = 200
    data["response"]["body"]["status"] = 401


def _created_status(data: dict[str, Any]) -> None:
    data["response"]["status"] = 201


def _type(data: dict[str, Any]) -> None:
    data["response"]["body"]["data"]["outputs"] = "https://example.com/a.mp4"


EDITS: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("renamed field", "eachlabs/wan-2-5-preview-create.json", _rename, "response-property-renamed"),
    ("new status word", "wavespeed/poll-processing.json", _new_word, "status-word-unknown"),
    ("error envelope", "eachlabs/error-401.json", _envelope, "error-envelope-changed"),
    (
        "error sent with its HTTP status",
        "apikley/error-401-in-200.json",
        _http_status_instead_of_body,
        "error-transport-changed",
    ),
    ("error sent in a 200", "eachlabs/error-401.json", _code_in_body, "error-transport-changed"),
    ("HTTP status", "wavespeed/create.json", _created_status, "response-status-unexpected"),
    ("type", "wavespeed/poll-completed.json", _type, "response-type-changed"),
]


@pytest.mark.parametrize(
    ("name", "edit", "rule"), [e[1:] for e in EDITS], ids=[e[0] for e in EDITS]
)
def test_edited_recording_is_flagged(
    tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None], rule: str
) -> None:
    data = copy.deepcopy(_fixture(name))
    edit(data)
    path = _write(tmp_path, name, data)  # keeps the provider folder name
    code, report = _cli(str(path))
    assert code == 1, report
    rules = {f["rule"] for f in report["findings"]}
    assert rule in rules, report["findings"]
    assert all(f["provider"] == name.split("/")[0] for f in report["findings"])


def test_rename_names_both_sides(tmp_path: Path) -> None:
    data = _fixture("eachlabs/wan-2-5-preview-create.json")
    _rename(data)
    _, report = _cli(str(_write(tmp_path, "eachlabs/x.json", data)))
    [finding] = [f for f in report["findings"] if f["rule"] == "response-property-renamed"]
    assert (finding["before"], finding["after"]) == ("predictionID", "prediction_id")
    assert finding["pointer"] == "/predictionID"
    assert finding["provenance"].startswith("[DOC]")


def _har_entry(fixture: dict[str, Any], base: str) -> dict[str, Any]:
    request, response = fixture["request"], fixture["response"]
    entry: dict[str, Any] = {
        "startedDateTime": "2026-01-01T00:00:00.000Z",
        "time": 1,
        "request": {
            "method": request["method"],
            "url": base + request["path"],
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in request["headers"].items()],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": -1,
        },
        "response": {
            "status": response["status"],
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in response["headers"].items()],
            "cookies": [],
            "content": {"mimeType": "application/json", "text": json.dumps(response["body"])},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 1, "receive": 0},
    }
    if "body" in request:
        entry["request"]["postData"] = {
            "mimeType": "application/json",
            "text": json.dumps(request["body"]),
        }
    return entry


def _har(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    }


def test_har_file(tmp_path: Path) -> None:
    real = "https://api.wavespeed.ai"
    mock = "http://127.0.0.1:8080/wavespeed"  # a HAR captured against the mock
    good = [
        _har_entry(_fixture("wavespeed/create.json"), real),
        _har_entry(_fixture("wavespeed/poll-completed.json"), mock),
        _har_entry(_fixture("wavespeed/balance.json"), real),
    ]
    path = tmp_path / "session.har"
    path.write_text(json.dumps(_har(good)), encoding="utf-8")
    code, report = _cli(str(path))
    assert code == 0, report["findings"]
    assert len(report["subjects"]) == 3

    drifted = _fixture("wavespeed/poll-processing.json")
    _new_word(drifted)
    path.write_text(json.dumps(_har([*good, _har_entry(drifted, real)])), encoding="utf-8")
    code, report = _cli(str(path))
    assert code == 1
    [finding] = report["findings"]
    assert finding["rule"] == "status-word-unknown"
    assert finding["subject"].endswith("session.har#3")
    assert finding["after"] == "queued"


def test_unmatched_endpoint_is_informational(tmp_path: Path) -> None:
    data = _fixture("eachlabs/cancel.json")
    data["request"]["path"] = "/v1/models"
    data["request"]["method"] = "GET"
    code, report = _cli(str(_write(tmp_path, "eachlabs/models.json", data)))
    assert code == 0
    assert [f["rule"] for f in report["findings"]] == ["endpoint-unmatched"]


def test_unreadable_recording_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "eachlabs" / "broken.json"
    path.parent.mkdir()
    path.write_text("{not json", encoding="utf-8")
    code, report = _cli(str(path))
    assert code == 2
    assert report["errors"]


def test_unknown_provider_is_skipped(tmp_path: Path) -> None:
    data = _fixture("eachlabs/cancel.json")
    code, report = _cli(str(_write(tmp_path, "elsewhere/cancel.json", data)))
    assert code == 0
    assert list(report["skipped"].values()) == ["provider unknown (use --provider)"]
    code, report = _cli(str(tmp_path / "elsewhere"), "--provider", "eachlabs")
    assert code == 0 and report["skipped"] == {}
