"""The admin OpenAPI is data (mockserver/http/admin_openapi.yaml), parsed once, copied per call."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml

from mockserver.http import admin_openapi
from mockserver.http.admin_openapi import ADMIN_OPENAPI_FILE, build_admin_openapi

REPO = Path(__file__).resolve().parents[2]


def test_the_document_is_a_file_in_the_package() -> None:
    shipped = resources.files("mockserver.http").joinpath(ADMIN_OPENAPI_FILE)
    assert shipped.is_file()
    # hatch ships every file under mockserver/ (pyproject: packages = ["mockserver"]);
    # tests/test_wheel.py serves the document from an installed wheel.
    assert "packages = [\"mockserver\"]" in (REPO / "pyproject.toml").read_text()
    data = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    document = build_admin_openapi()
    assert document == data  # only servers is computed, and its default is the file's
    assert json.dumps(document) == json.dumps(data)  # the file's key order is served


def test_parsed_once_and_every_caller_gets_its_own_copy() -> None:
    admin_openapi._document.cache_clear()
    first = build_admin_openapi()
    first["paths"].clear()
    first["info"]["title"] = "changed"
    second = build_admin_openapi("http://127.0.0.1:9999")
    assert second["paths"] and second["info"]["title"] == "genmock admin API"
    assert second["servers"] == [{"url": "http://127.0.0.1:9999"}]
    assert admin_openapi._document.cache_info().misses == 1
