"""What a mock is configured with, and how that becomes a :class:`MockConfig`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mockserver.config import ClockConfig, ConfigError, MockConfig, SecurityConfig

__all__ = ["ConfigSource", "MockOptions", "ScenarioSpec"]

#: A config: a :class:`MockConfig`, a TOML file, or a parsed mapping of one.
ConfigSource = MockConfig | str | Path | Mapping[str, Any]
#: A scenario to queue: a name (``"job_failed"``), a code (``429``, ``"429"``) or a
#: full ``POST /_mock/scenarios`` body (``{"scenario": ..., "match": {...}, "times": n}``).
ScenarioSpec = str | int | Mapping[str, Any]

#: Seed used when neither the caller nor a config gives one: deterministic ids.
DEFAULT_SEED = 0


@dataclass(frozen=True)
class MockOptions:
    """Everything a mock is built from; see :func:`mockserver.testing.mock_providers`."""

    providers: tuple[str, ...] | None = None
    config: ConfigSource | None = None
    clock: Literal["manual", "real"] | None = None
    speed: float | None = None
    seed: int | None = None
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scenarios: tuple[ScenarioSpec, ...] = ()
    validate_responses: bool = False
    passthrough: bool | tuple[str, ...] = False

    @classmethod
    def of(
        cls,
        *,
        providers: Sequence[str] | None = None,
        config: ConfigSource | None = None,
        clock: Literal["manual", "real"] | None = None,
        speed: float | None = None,
        seed: int | None = None,
        accounts: Mapping[str, Mapping[str, Any]] | None = None,
        scenarios: Sequence[ScenarioSpec] = (),
        validate_responses: bool = False,
        passthrough: bool | Sequence[str] = False,
    ) -> MockOptions:
        """Check and normalise keyword arguments (ValueError/ConfigError when wrong)."""
        if isinstance(providers, str):
            providers = (providers,)
        if clock not in (None, "manual", "real"):
            raise ConfigError(f"clock must be 'manual' or 'real', got {clock!r}")
        if speed is not None and not speed > 0:
            raise ConfigError(f"speed must be greater than 0, got {speed!r}")
        if isinstance(scenarios, str | int | Mapping):
            scenarios = (scenarios,)
        for key, settings in (accounts or {}).items():
            if not isinstance(key, str) or not key or not isinstance(settings, Mapping):
                raise ConfigError("accounts must map API keys to settings mappings")
        return cls(
            providers=None if providers is None else tuple(providers),
            config=config,
            clock=clock,
            speed=speed,
            seed=seed,
            accounts=dict(accounts or {}),
            scenarios=tuple(scenarios),
            validate_responses=validate_responses,
            passthrough=passthrough if isinstance(passthrough, bool) else tuple(passthrough),
        )

    def build_config(self) -> MockConfig:
        """The :class:`MockConfig` to create the app with.

        Without a config: a manual clock and seed 0. A config's own clock and
        seed are kept unless ``clock``/``speed``/``seed`` are given; a config
        file or mapping without a ``[clock]`` kind gets the manual clock too.
        """
        source = self.config
        clock_given = False
        if source is None:
            base = MockConfig()
        elif isinstance(source, MockConfig):
            base, clock_given = source, True
        elif isinstance(source, str | Path):
            path = Path(source)
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except OSError as error:
                raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from error
            except tomllib.TOMLDecodeError as error:
                raise ConfigError(f"{path}: not valid TOML: {error}") from error
            base = MockConfig.from_mapping(data, origin=str(path))
            clock_given = _sets_clock(data)
        else:
            base = MockConfig.from_mapping(source)
            clock_given = _sets_clock(source)
        clock = base.clock
        if self.clock is not None:
            clock = replace(clock, kind=self.clock)
        elif self.speed is not None:
            clock = replace(clock, kind="real")
        elif not clock_given:
            clock = ClockConfig(kind="manual", start=clock.start)
        if self.speed is not None:
            clock = replace(clock, speed=self.speed)
        seed = self.seed
        if seed is None:
            seed = base.seed if source is not None else DEFAULT_SEED
        # ``accounts`` are applied through the admin API after start (and after a
        # reset), so other keys stay valid; a config's [accounts.keys] restricts keys.
        security = base.security
        if security == SecurityConfig():
            # Deliveries go through the harness's router, which captures every URL a
            # test does not pass through: any host is safe (the "never" list stays).
            security = replace(security, webhook_any_host=True)
        return replace(base, clock=clock, seed=seed, security=security)


def _sets_clock(data: Mapping[str, Any]) -> bool:
    clock = data.get("clock")
    return isinstance(clock, Mapping) and "kind" in clock
