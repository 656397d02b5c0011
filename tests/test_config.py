"""MockConfig from TOML: defaults, every section, and errors that name the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from mockserver.config import ConfigError, MockConfig, ProviderConfig
from mockserver.domain.clock import DEFAULT_SPEED, ManualClock, RealClock
from mockserver.domain.webhooks import RetryPolicy
from mockserver.http.app import build_clock, create_app

FULL = """
seed = 7
journal_size = 50

[server]
host = "0.0.0.0"
port = 9000

[clock]
kind = "manual"
speed = 3.5
start = 1000.0

[jobs]
polls_per_phase = 2
seconds = 12.5

[webhooks]
attempts = 4
delays_seconds = [1, 2.5]
timeout_seconds = 3

[providers.apikley]
error_transport = "http_status"

[accounts]
default_balances = { USD = 20 }

[accounts.keys.k1]
balance = 5
"""


def test_defaults() -> None:
    config = MockConfig()
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.clock.kind == "real"
    assert config.clock.speed == DEFAULT_SPEED == 17.5
    assert config.jobs.polls_per_phase is None and config.jobs.seconds is None
    assert config.webhooks.apply(RetryPolicy()) == RetryPolicy()
    assert config.providers == {} and config.accounts == {}
    assert MockConfig.from_mapping({}) == config


def test_every_key(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(FULL)
    config = MockConfig.load(path)
    assert config.seed == 7 and config.journal_size == 50
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9000)
    assert (config.clock.kind, config.clock.speed, config.clock.start) == ("manual", 3.5, 1000.0)
    assert (config.jobs.polls_per_phase, config.jobs.seconds) == (2, 12.5)
    contract_policy = RetryPolicy(attempts=3, delays_seconds=(10.0,), timeout_seconds=30)
    policy = config.webhooks.apply(contract_policy)
    assert policy == RetryPolicy(attempts=4, delays_seconds=(1.0, 2.5), timeout_seconds=3.0)
    assert config.providers == {"apikley": ProviderConfig(error_transport="http_status")}
    assert config.accounts == {"default_balances": {"USD": 20}, "keys": {"k1": {"balance": 5}}}


def test_accounts_as_an_array_of_tables() -> None:
    config = MockConfig.from_mapping(
        {"accounts": [{"key": "a", "balance": 1}, {"key": "b", "valid": False}]}
    )
    assert config.accounts == {"keys": {"a": {"balance": 1}, "b": {"valid": False}}}


def test_zero_means_off_for_job_knobs() -> None:
    config = MockConfig.from_mapping({"jobs": {"polls_per_phase": 0, "seconds": 0}})
    assert config.jobs.polls_per_phase is None and config.jobs.seconds is None


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"sever": {}}, "'sever'"),
        ({"server": {"prot": 1}}, "'server.prot'"),
        ({"clock": {"kind": "fast"}}, "'clock.kind'"),
        ({"clock": {"speed": 0}}, "'clock.speed'"),
        ({"clock": {"speed": "2"}}, "'clock.speed'"),
        ({"jobs": {"polls_per_phase": -1}}, "'jobs.polls_per_phase'"),
        ({"jobs": {"polls_per_phase": True}}, "'jobs.polls_per_phase'"),
        ({"webhooks": {"attempts": 0}}, "'webhooks.attempts'"),
        ({"webhooks": {"delays_seconds": [1, -2]}}, "'webhooks.delays_seconds'"),
        ({"webhooks": {"retries": 3}}, "'webhooks.retries'"),
        ({"providers": {"apikley": {"transport": "x"}}}, "'providers.apikley.transport'"),
        ({"providers": {"apikley": {"error_transport": "smoke"}}},
         "'providers.apikley.error_transport'"),
        ({"server": {"port": 70000}}, "'server.port'"),
        ({"server": "x"}, "'server'"),
        ({"accounts": {"key": "x"}}, "'accounts.key'"),
        ({"accounts": "x"}, "'accounts'"),
        ({"accounts": [{"balance": 1}]}, "'accounts\\[0\\]'"),
        ({"accounts": {"keys": {"k": {"colour": 1}}}}, "colour"),
        ({"accounts": {"keys": {"k": {"balance": -1}}}}, "negative"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        MockConfig.from_mapping(data, origin="mock.toml")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        MockConfig.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        MockConfig.load(bad)


def test_build_clock() -> None:
    manual = build_clock(MockConfig.from_mapping({"clock": {"kind": "manual", "start": 5}}).clock)
    assert isinstance(manual, ManualClock) and manual.now() == 5
    real = build_clock(MockConfig.from_mapping({"clock": {"speed": 2}}).clock)
    assert isinstance(real, RealClock) and real.speed == 2


def test_app_applies_the_config(make_app: Callable[..., Starlette]) -> None:
    config = MockConfig.from_mapping(
        {"jobs": {"polls_per_phase": 3, "seconds": 20},
         "webhooks": {"attempts": 7, "timeout_seconds": 1},
         "seed": 1}
    )
    state = make_app(config=config).state.mock
    settings = state.service.settings
    assert settings.polls_per_phase == 3 and settings.job_seconds == 20
    eachlabs = settings.retry_policies["eachlabs"]
    # attempts and timeout from the config, delays from the Eachlabs contract
    assert eachlabs == RetryPolicy(attempts=7, delays_seconds=(10.0, 10.0), timeout_seconds=1.0)
    assert settings.retry_policies["wavespeed"].delays_seconds == (10.0, 60.0)


def test_app_refuses_unknown_providers_and_transports() -> None:
    with pytest.raises(ConfigError, match="nosuch"):
        create_app(MockConfig(providers={"nosuch": ProviderConfig()}), clock=ManualClock())
    with pytest.raises(ConfigError, match="body_code"):
        # Eachlabs has only http_status.
        create_app(
            MockConfig(providers={"eachlabs": ProviderConfig(error_transport="body_code")}),
            clock=ManualClock(),
        )
