"""The installed package, not the checkout: build the wheel, install it into fresh
virtual environments outside the checkout and use it as a new user would.

For ``pip install genmock`` (no extras) and ``pip install 'genmock[all]'``:

- the README's own pytest examples, copied from README.md (every ```python
  block of "Using genmock in your own tests" that defines a test or a class,
  with the README's ``mock.toml`` beside them), run by that venv's pytest;
- ``mockserver serve`` from the venv, with the contracts bundled in the wheel,
  answers a create and a poll over HTTP;
- ``mockserver fuzz``: without the extra, exit 2 and one line naming the
  install command; with ``[all]``, a bounded fuzz that passes.

A runtime import of a package the wheel does not declare fails here (the
plain venv has only the declared dependencies, plus pytest for the user's
own tests). pip's cache keeps it to about a minute per venv after the first run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PIP_SECONDS = 600


def _run(
    *argv: str | Path, cwd: Path, timeout: float = PIP_SECONDS
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MOCKSERVER_CONTRACTS", "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _ok(_run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, REPO, cwd=out))
    (built,) = out.glob("genmock-*.whl")
    return built


def readme_examples() -> tuple[str, str]:
    """(test module, mock.toml) from README.md."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using genmock in your own tests", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    chosen = [b for b in blocks if "def test_" in b or re.search(r"^class ", b, flags=re.M)]
    assert len(chosen) >= 3, "the README's pytest examples went missing"
    toml = re.findall(r"```toml\n(.*?)```", text, flags=re.S)[0]
    return "import pytest\n\n" + "\n\n".join(chosen), toml


def _venv(root: Path, wheel: Path, extras: str) -> Path:
    _ok(_run(sys.executable, "-m", "venv", root / "venv", cwd=root))
    bin_dir = root / "venv" / "bin"
    target = f"genmock{extras} @ {wheel.as_uri()}"
    # pytest is the user's own test runner; everything else comes from the wheel's metadata.
    _ok(_run(bin_dir / "python", "-m", "pip", "install", "-q", target, "pytest", cwd=root))
    return bin_dir


@pytest.fixture(params=["", "[all]"], ids=["plain", "all"])
def installed(
    request: pytest.FixtureRequest, wheel: Path, tmp_path: Path
) -> Iterator[tuple[str, Path, Path]]:
    project = tmp_path / "project"
    project.mkdir()
    yield request.param, _venv(tmp_path, wheel, request.param), project


def test_installed_wheel_works_as_the_readme_says(
    installed: tuple[str, Path, Path], redis_url: str
) -> None:
    extras, bin_dir, project = installed
    where = _ok(_run(bin_dir / "python", "-c", "import mockserver; print(mockserver.__file__)",
                     cwd=project))
    assert str(REPO) not in where and "site-packages" in where  # the wheel, not the checkout
    version = _ok(_run(bin_dir / "mockserver", "--version", cwd=project))
    assert re.fullmatch(r"mockserver \(genmock\) \d+\.\d+\.\d+\S*\n", version)

    # 1. the README's pytest examples
    tests, toml = readme_examples()
    (project / "test_readme.py").write_text(tests, encoding="utf-8")
    (project / "mock.toml").write_text(toml, encoding="utf-8")
    result = _run(bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "test_readme.py", cwd=project, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[3-9] passed", result.stdout), result.stdout

    # 2. mockserver serve with the bundled contracts: a create and a poll over HTTP
    _serve_create_poll(bin_dir, project)

    # 2b. on Redis with two workers (README, Scaling out); without the extra, one line
    store = ["--store", redis_url, "--store-prefix", f"wheel{extras.strip('[]')}", "--workers",
             "2"]
    if extras == "":
        result = _run(bin_dir / "mockserver", "serve", "--port", "0", *store, cwd=project)
        assert result.returncode == 2 and result.stdout == "", result.stdout + result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "pip install 'genmock[redis]'" in result.stderr, result.stderr
    else:
        _serve_create_poll(bin_dir, project, *store)

    # 3. mockserver fuzz
    if extras == "":
        result = _run(bin_dir / "mockserver", "fuzz", "--provider", "eachlabs", cwd=project)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1, result.stderr
        assert "pip install 'genmock[fuzz]'" in result.stderr and "Traceback" not in result.stderr
    else:
        result = _run(bin_dir / "mockserver", "fuzz", "--provider", "eachlabs",
                      "--max-examples", "3", "--phase", "examples", "--phase", "stateful",
                      cwd=project, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "PASSED" in result.stdout


def _serve_create_poll(bin_dir: Path, project: Path, *more: str) -> None:
    server = subprocess.Popen(
        [str(bin_dir / "mockserver"), "serve", "--port", "0", "--clock", "manual", *more],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", first)
        assert match, first + (server.stderr.read() if server.poll() is not None else "")
        base = match.group(1)
        headers = {"X-API-Key": "wheel-key"}
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 10
            while http.get("/_mock/health").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            # The admin OpenAPI is a data file in the package: the wheel carries it.
            from mockserver.http.admin_openapi import build_admin_openapi

            assert http.get("/_mock/openapi.json").json() == build_admin_openapi()
            created = http.post(
                "/eachlabs/v1/prediction/", headers=headers,
                json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                      "input": {"image_url": "https://example.com/a.jpg", "prompt": "cat"}},
            )
            assert created.status_code == 200, created.text
            job_id = created.json()["predictionID"]
            assert http.post("/_mock/clock/advance", json={"seconds": 600}).status_code == 200
            # New connections: with workers, any of them answers for the job.
            for _ in range(4):
                polled = httpx.get(f"{base}/eachlabs/v1/prediction/{job_id}", headers=headers,
                                   timeout=10)
                assert polled.status_code == 200 and polled.json()["status"] == "success"
            # The console's files are in the wheel: the page, its script and style.
            page = http.get("/", follow_redirects=True)
            assert page.status_code == 200 and "genmock console" in page.text, page.text[:200]
            for name, marker in (("console.js", "/_mock/events"), ("console.css", ".timeline")):
                asset = http.get(f"/_mock/ui/{name}")
                assert asset.status_code == 200 and marker in asset.text, name
    finally:
        server.terminate()
        server.wait(timeout=15)
