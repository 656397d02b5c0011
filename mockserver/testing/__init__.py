"""Mock Eachlabs, WaveSpeed and Apikley inside a test suite.

In-process, for httpx clients (sync and async; no server, no port, no code
change in the client)::

    from mockserver.testing import mock_providers

    with mock_providers() as mock:
        run_my_client()                  # talks to https://api.eachlabs.ai as usual
        mock.advance(60)                 # jobs finish, webhooks are delivered
        assert mock.jobs[0]["state"] == "succeeded"
        assert mock.received[0].json()["status"] == "succeeded"

Served on a loopback port, for ``requests`` and anything else::

    with serve_providers() as mock:
        client = wavespeed.Client(api_key="k", base_url=mock.base_url("wavespeed"))

The same handle API either way: :class:`ProviderMock`. The pytest plugin
(:mod:`mockserver.pytest_plugin`) wraps both as fixtures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mockserver.testing._mock import InProcessMock, MockControlError, ProviderMock, ServedMock
from mockserver.testing._options import ConfigSource, MockOptions, ScenarioSpec
from mockserver.testing._webhooks import RECEIVER_HOST, ReceivedWebhook, WebhookReceiver

__all__ = [
    "RECEIVER_HOST",
    "ConfigSource",
    "InProcessMock",
    "MockControlError",
    "MockOptions",
    "ProviderMock",
    "ReceivedWebhook",
    "ScenarioSpec",
    "ServedMock",
    "WebhookReceiver",
    "mock_providers",
    "serve_providers",
]


def mock_providers(
    providers: Sequence[str] | None = None,
    *,
    config: ConfigSource | None = None,
    clock: Literal["manual", "real"] | None = None,
    speed: float | None = None,
    seed: int | None = None,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    scenarios: Sequence[ScenarioSpec] = (),
    validate_responses: bool = False,
    passthrough: bool | Sequence[str] = False,
) -> InProcessMock:
    """An in-process mock of the providers for httpx clients: a context manager or decorator.

    ``providers``: which to mock (default: all); the others' hosts are not
    intercepted. ``config``: a :class:`~mockserver.config.MockConfig`, a TOML
    path or a mapping. ``clock``: ``"manual"`` (the default without a config:
    time moves only by :meth:`~ProviderMock.advance`) or ``"real"`` (wall time
    times ``speed``). ``seed``: ids are reproducible (default 0). ``accounts``:
    ``{api_key: {"balance": 5, "valid": True, "webhook_secret": ...}}``.
    ``scenarios``: queued at start (and after :meth:`~ProviderMock.reset`), as
    names (``"job_failed"``), codes (``429``) or ``POST /_mock/scenarios`` bodies.
    ``validate_responses``: check every response against its contract schema.
    ``passthrough``: by default a request to any other host raises (respx's
    ``assert_all_mocked``); ``True`` lets every other host reach the network,
    a list of hosts only those.
    """
    return InProcessMock(
        MockOptions.of(
            providers=providers, config=config, clock=clock, speed=speed, seed=seed,
            accounts=accounts, scenarios=scenarios, validate_responses=validate_responses,
            passthrough=passthrough,
        )
    )


def serve_providers(
    providers: Sequence[str] | None = None,
    *,
    config: ConfigSource | None = None,
    clock: Literal["manual", "real"] | None = None,
    speed: float | None = None,
    seed: int | None = None,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    scenarios: Sequence[ScenarioSpec] = (),
    validate_responses: bool = False,
) -> ServedMock:
    """The same mock served on ``http://127.0.0.1:<free port>``; a context manager or decorator.

    Arguments as for :func:`mock_providers`. Point clients at
    ``mock.base_url(provider)`` (``http://127.0.0.1:<port>/eachlabs``).
    """
    return ServedMock(
        MockOptions.of(
            providers=providers, config=config, clock=clock, speed=speed, seed=seed,
            accounts=accounts, scenarios=scenarios, validate_responses=validate_responses,
        )
    )
