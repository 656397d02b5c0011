"""`mockserver serve` as a user runs it: a subprocess on a free port."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import free_port, wait_for_health

from mockserver.config import ConfigError
from mockserver.http.serve import config_from_arguments, run_serve
from mockserver.providers import registry

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_starts_answers_and_stops_cleanly(stop: signal.Signals) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port),
         "--clock", "manual", "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(f"{base}/_mock/health", process)
        health = httpx.get(f"{base}/_mock/health", trust_env=False).json()
        assert health["clock"]["kind"] == "manual"
        assert set(health["providers"]) == set(registry.names())
        # A provider answers in its own envelope.
        reply = httpx.get(f"{base}/eachlabs/v1/prediction/nope", trust_env=False)
        assert reply.status_code == 401
        process.send_signal(stop)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"{base}/eachlabs" in out
    assert f"{base}/wavespeed" in out
    assert f"{base}/apikley" in out
    assert f"{base}/_mock/health" in out
    assert "Traceback" not in err


def _arguments(**values: object) -> argparse.Namespace:
    defaults: dict[str, object] = {
        "host": None, "port": None, "config": None, "clock": None, "speed": None,
        "webhook_attempts": None, "webhook_timeout": None, "log_level": "info",
        "job_seconds": None, "polls_per_phase": None, "seed": None,
    }
    defaults.update(values)
    return argparse.Namespace(**defaults)


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(
        '[server]\nport = 9999\nhost = "0.0.0.0"\n[clock]\nkind = "manual"\n'
        "[webhooks]\nattempts = 5\n"
    )
    config = config_from_arguments(_arguments(config=str(path), port=1234, webhook_timeout=2.5))
    assert config.server.port == 1234  # flag
    assert config.server.host == "0.0.0.0"  # file
    assert config.clock.kind == "manual"
    assert config.webhooks.attempts == 5
    assert config.webhooks.timeout_seconds == 2.5
    plain = config_from_arguments(_arguments())
    assert (plain.server.host, plain.server.port, plain.clock.kind) == ("127.0.0.1", 8080, "real")


@pytest.mark.parametrize(
    "values", [{"speed": 0.0}, {"webhook_attempts": 0}, {"webhook_timeout": -1.0},
               {"job_seconds": 0.0}, {"polls_per_phase": 0}],
)
def test_bad_flags_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        config_from_arguments(_arguments(**values))


def test_run_serve_reports_a_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nprot = 1\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_serve(_arguments(config=str(path)), stdout, stderr) == 2
    assert "server.prot" in stderr.getvalue()
