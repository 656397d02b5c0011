"""genmock's pytest plugin: provider mocks as fixtures, configured by a marker.

Registered through the ``pytest11`` entry point, so installing genmock is
enough (like respx's ``respx_mock``). Fixtures, each a fresh world per test:

``provider_mock``
    :class:`~mockserver.testing.InProcessMock`: the real provider hosts are
    routed to the mock for every httpx client, sync or async; no port.
``provider_server``
    :class:`~mockserver.testing.ServedMock`: the same app on
    ``http://127.0.0.1:<free port>`` for ``requests`` & co; ``.url``,
    ``.base_url(provider)``.
``provider_backend``
    parametrized over both: the test runs once in-process and once served.
    Write the client's base URL as ``mock.base_url("eachlabs")``.
``mock_webhook_receiver``
    a :class:`~mockserver.testing.WebhookReceiver` with its own ``url``; the
    mock fixture of the same test delivers to it in-process.
``mock_webhook_url``
    ``mock_webhook_receiver.url``.
``provider_chaos``
    :func:`mockserver.chaos.run_chaos`: ``provider_chaos(fn, seeds=range(50))``
    runs ``fn(mock)`` against a fresh chaos mock per seed and returns the report
    (``.failing_seeds``, ``.summary()``, ``.replay(seed)``, ``.assert_ok()``).

Marker (every argument optional; the defaults are a manual clock and seed 0)::

    @pytest.mark.provider_mock(providers=["eachlabs"], clock="manual"|"real",
                               speed=17.5, seed=0, accounts={"key": {"balance": 5}},
                               scenarios=["job_failed"], config="mock.toml",
                               validate_responses=False, passthrough=False)

At teardown a fixture fails the test if the mock itself hit a bug
(an unhandled exception, or a response that broke its contract when
``validate_responses=True``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockserver.testing import (
        InProcessMock,
        MockOptions,
        ProviderMock,
        ServedMock,
        WebhookReceiver,
    )

__all__ = [
    "MARKER",
    "mock_webhook_receiver",
    "mock_webhook_url",
    "provider_backend",
    "provider_chaos",
    "provider_mock",
    "provider_server",
]

#: The marker that configures the fixtures.
MARKER = "provider_mock"
_RECEIVER_FIXTURE = "mock_webhook_receiver"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (``--strict-markers`` friendly)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(providers=None, clock='manual', speed=None, seed=0, accounts=None, "
        "scenarios=(), config=None, validate_responses=False, passthrough=False): "
        "configure genmock's provider_mock / provider_server / provider_backend fixtures",
    )


def _options(request: pytest.FixtureRequest) -> MockOptions:
    from mockserver.testing import MockOptions

    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return MockOptions.of()
    kwargs: dict[str, Any] = dict(marker.kwargs)
    if marker.args:
        if len(marker.args) > 1 or "providers" in kwargs:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER}: pass providers once, e.g. providers=['eachlabs']"
            )
        kwargs["providers"] = marker.args[0]
    try:
        return MockOptions.of(**kwargs)
    except TypeError as error:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}: {error}") from None


def _run(request: pytest.FixtureRequest, mock: ProviderMock) -> Iterator[Any]:
    with mock:
        if _RECEIVER_FIXTURE in request.fixturenames:
            receiver: WebhookReceiver = request.getfixturevalue(_RECEIVER_FIXTURE)
            mock.route_webhooks(receiver.url, receiver)
        yield mock
        mock.check()


@pytest.fixture
def provider_mock(request: pytest.FixtureRequest) -> Iterator[InProcessMock]:
    """In-process mock of the providers' real hosts for httpx clients (a fresh world)."""
    from mockserver.testing import InProcessMock

    yield from _run(request, InProcessMock(_options(request)))


@pytest.fixture
def provider_server(request: pytest.FixtureRequest) -> Iterator[ServedMock]:
    """The mock served on a free loopback port (a fresh world); ``.url``, ``.base_url()``."""
    from mockserver.testing import ServedMock

    yield from _run(request, ServedMock(_options(request)))


@pytest.fixture(params=["inprocess", "served"])
def provider_backend(request: pytest.FixtureRequest) -> ProviderMock:
    """``provider_mock`` and then ``provider_server``: one test body, both ways."""
    name = "provider_mock" if request.param == "inprocess" else "provider_server"
    mock: ProviderMock = request.getfixturevalue(name)
    return mock


@pytest.fixture
def mock_webhook_receiver() -> WebhookReceiver:
    """A webhook URL the test owns; the test's mock delivers to it in-process."""
    from mockserver.testing import WebhookReceiver

    return WebhookReceiver()


@pytest.fixture
def mock_webhook_url(mock_webhook_receiver: WebhookReceiver) -> str:
    """The URL of :func:`mock_webhook_receiver`."""
    return mock_webhook_receiver.url


@pytest.fixture
def provider_chaos() -> Any:
    """:func:`mockserver.chaos.run_chaos`, to fuzz a client against N seeded chaos worlds."""
    from mockserver.chaos import run_chaos

    return run_chaos
