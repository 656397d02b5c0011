"""`[store]`, `[server] workers` and their flags: what is accepted, what is refused, and how."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mockserver.cli import _parser
from mockserver.config import ConfigError, MockConfig, StoreConfig
from mockserver.http.serve import (
    ADMIN_TOKEN_ENV,
    _exposure,
    config_from_arguments,
    worker_environment,
)

ROOT = Path(__file__).parents[2]


def _serve_arguments(*argv: str) -> MockConfig:
    return config_from_arguments(_parser().parse_args(["serve", *argv]))


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0",
    "redis://localhost",
    "redis://redis-host:6380/15",
    "redis://user:p%40ss@[::1]:6379/2",
    "redis://:only-a-password@h/0",
    "rediss://h.example:6380/1",
    "unix:///var/run/redis/redis.sock",
    "unix:///tmp/r.sock?db=3",
])
def test_store_urls_redis_py_reads_are_accepted(url: str) -> None:
    config = MockConfig.from_mapping({"store": {"url": url, "prefix": "team-a.ci_1"}})
    assert config.store == StoreConfig(url=url, prefix="team-a.ci_1")


@pytest.mark.parametrize(("url", "problem"), [
    ("http://127.0.0.1:6379/0", "the scheme must be redis, rediss or unix, not 'http'"),
    ("127.0.0.1:6379", "the scheme must be redis, rediss or unix"),
    ("redis:///0", "needs a host"),
    ("redis://h:99999/0", "Port out of range"),
    ("redis://h:port/0", "Port could not be cast"),
    ("redis://h:/0", "the port is empty"),
    ("redis://h/zero", "the path must be a database number"),  # redis-py would use db 0
    ("redis://h/0?socket_timeout=9", "no query parameters"),
    ("redis://h/0#x", "fragment"),
    ("unix://", "absolute path"),
    ("unix://host/tmp/r.sock", "no host or port"),
    ("unix:///tmp/r.sock?db=x", "?db= must be a database number"),
    ("unix:///tmp/r.sock?password=x", "the only query parameter allowed is ?db=N"),
])
def test_bad_store_urls_are_refused_naming_the_key_and_the_forms(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        MockConfig.from_mapping({"store": {"url": url}}, origin="mock.toml")
    message = str(refused.value)
    assert message.startswith("mock.toml: 'store.url' must be redis://[user:password@]HOST"
                              "[:PORT][/DB], rediss://... (TLS) or unix:///path/to/socket[?db=N]")
    assert problem in message


def test_a_refused_store_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as refused:
        MockConfig.from_mapping({"store": {"url": "redis://admin:hunter2@h/x"}})
    assert "hunter2" not in str(refused.value)
    assert "redis://***@h/x" in str(refused.value)


@pytest.mark.parametrize(("table", "message"), [
    ({"store": {"prefix": "a:b"}}, "'store.prefix' must be 1-64 letters, digits, '_', '.' or "
                                   "'-' (no ':', the key separator), got 'a:b'"),
    ({"store": {"prefix": ""}}, "'store.prefix' must be 1-64"),
    ({"store": {"prefix": "x" * 65}}, "'store.prefix' must be 1-64"),
    ({"store": {"prefix": "gen mock"}}, "'store.prefix' must be 1-64"),
    ({"store": {"prefix": 7}}, "'store.prefix' must be a string, got 7"),
    ({"store": {"url": 6379}}, "'store.url' must be a string, got 6379"),
    ({"store": {"host": "h"}}, "unknown key 'store.host' (allowed here: url, prefix)"),
    ({"store": "redis://h/0"}, "'store' must be a table ([store])"),
    ({"server": {"workers": 0}}, "'server.workers' must be an integer of at least 1, got 0"),
    ({"server": {"workers": 65}}, "'server.workers' must be at most 64, got 65"),
    ({"server": {"workers": "4"}}, "'server.workers' must be an integer of at least 1"),
    ({"server": {"workers": 2.0}}, "'server.workers' must be an integer of at least 1"),
])
def test_bad_store_and_workers_keys_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        MockConfig.from_mapping(table, origin="mock.toml")
    assert str(refused.value) == f"mock.toml: {message}" or message in str(refused.value)


def test_defaults_and_an_empty_url_mean_memory() -> None:
    assert MockConfig().store == StoreConfig(url=None, prefix="genmock")
    assert MockConfig().server.workers == 1 and MockConfig().server.worker is None
    assert MockConfig.from_mapping({"store": {"url": ""}}).store.url is None


def test_flags_override_the_store_table(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text('[server]\nworkers = 3\n[store]\nurl = "redis://file-host/1"\n'
                    'prefix = "from-file"\n')
    from_file = _serve_arguments("--config", str(path))
    assert from_file.server.workers == 3
    assert from_file.store == StoreConfig(url="redis://file-host/1", prefix="from-file")
    flags = _serve_arguments("--config", str(path), "--store", "unix:///tmp/r.sock?db=2",
                             "--store-prefix", "flagged", "--workers", "5")
    assert flags.server.workers == 5
    assert flags.store == StoreConfig(url="unix:///tmp/r.sock?db=2", prefix="flagged")
    # --store "" goes back to memory, which one worker may use.
    memory = _serve_arguments("--config", str(path), "--store", "", "--workers", "1")
    assert memory.store.url is None and memory.server.workers == 1


@pytest.mark.parametrize(("argv", "message"), [
    (("--workers", "0"), "--workers must be between 1 and 64, got 0"),
    (("--workers", "65", "--store", "redis://h/0"), "--workers must be between 1 and 64, got 65"),
    (("--store", "redis://h/db1"), "--store must be redis://"),
    (("--store-prefix", "a:b"), "--store-prefix must be 1-64"),
    (("--workers", "2"), "--workers 2 needs a shared store"),
])
def test_bad_flags_are_refused(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("?", r"\?")):
        _serve_arguments(*argv)


def test_hidden_worker_flags_reach_the_config_but_not_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _serve_arguments("--store", "redis://h/0", "--workers", "2", "--worker-fd", "3",
                              "--worker-index", "1", "--worker-parent", "1")
    assert config.server.worker == 1
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--help"])
    text = capsys.readouterr().out
    assert "--worker-fd" not in text and "--worker-index" not in text
    for option in ("--store URL", "--store-prefix PREFIX", "--workers N"):
        assert option in text


def _serve(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", "serve", "--port", "0",
                           "--no-https-proxy", *argv],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def test_several_workers_without_a_store_are_refused_with_one_line(tmp_path: Path) -> None:
    refused = _serve("--workers", "2")
    assert refused.returncode == 2
    assert refused.stdout == ""  # no banner: nothing was bound
    assert refused.stderr.splitlines() == [
        "mockserver serve: --workers 2 needs a shared store (--store redis://HOST:PORT/DB or "
        "[store] url): without one each worker keeps its own jobs, balances and journal"]
    # The same from the file's [server] workers.
    path = tmp_path / "mock.toml"
    path.write_text("[server]\nworkers = 4\n")
    from_file = _serve("--config", str(path))
    assert from_file.returncode == 2
    assert len(from_file.stderr.splitlines()) == 1
    assert "--workers 4 needs a shared store" in from_file.stderr


def test_a_bad_store_flag_exits_2_with_one_line_and_no_password() -> None:
    refused = _serve("--store", "redis://me:s3cret@redis-host:6379/db0")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "mockserver serve: --store must be redis://" in refused.stderr
    assert "s3cret" not in refused.stderr


def test_the_readme_config_file_reference_is_a_valid_config() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Configuration file", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = MockConfig.from_mapping(tomllib.loads(block), origin="README.md")
    assert config.server.workers == 1
    assert config.store == StoreConfig(url="redis://127.0.0.1:6379/0", prefix="genmock")


def test_a_store_without_the_redis_extra_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checked before any worker starts: the supervisor reports it once (no crash loop)."""
    import importlib.util
    import io

    from mockserver.cli import run

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "redis" else real(name, *a))
    out, err = io.StringIO(), io.StringIO()
    code = run(["serve", "--port", "0", "--no-https-proxy", "--store", "redis://127.0.0.1:1/0",
                "--workers", "2"], out, err)
    assert (code, out.getvalue()) == (2, "")
    assert err.getvalue() == ("mockserver serve --store needs the 'redis' extra (redis is not "
                              "installed): pip install 'genmock[redis]'\n")


def test_workers_require_the_admin_token_the_supervisor_made_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off loopback with no token, serve makes one up and prints it; each worker must
    then require that one, not make up its own."""
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    config, lines = _exposure(_serve_arguments("--host", "0.0.0.0"))
    token = config.security.admin_token
    assert token and any(token in line for line in lines)
    env = worker_environment(config, {"PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin", ADMIN_TOKEN_ENV: token}
    # A worker started without it would make up another one.
    alone, _ = _exposure(_serve_arguments("--host", "0.0.0.0", "--worker-index", "0"))
    assert alone.security.admin_token not in (None, token)
    # With the workers' environment it requires the supervisor's, and prints none.
    monkeypatch.setenv(ADMIN_TOKEN_ENV, env[ADMIN_TOKEN_ENV])
    worker, worker_lines = _exposure(_serve_arguments("--host", "0.0.0.0", "--worker-index", "0"))
    assert worker.security.admin_token == token
    assert not any("generated" in line for line in worker_lines)


@pytest.mark.parametrize("kind", ["text", "json"])
def test_a_workers_log_lines_name_it(kind: str) -> None:
    import io
    import json
    import logging

    from mockserver.logformat import log_formatter, worker_log_handler

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(kind))
    worker_log_handler(handler, kind, 3)
    handler.handle(logging.LogRecord("mockserver.x", logging.INFO, __file__, 1, "hello", (), None))
    line = stream.getvalue().strip()
    if kind == "json":
        assert json.loads(line)["worker"] == 3 and json.loads(line)["message"] == "hello"
    else:
        assert line.endswith(" INFO worker 3 mockserver.x: hello")


def test_run_serve_without_the_command_line_refuses_workers_before_binding() -> None:
    import io

    from mockserver.http.serve import run_serve

    arguments = _parser().parse_args(["serve", "--port", "0", "--no-https-proxy", "--store",
                                      "redis://127.0.0.1:1/0", "--workers", "2"])
    out, err = io.StringIO(), io.StringIO()
    assert run_serve(arguments, out, err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("mockserver serve: --workers: the workers repeat the "
                                      "command line")
