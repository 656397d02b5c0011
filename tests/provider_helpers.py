"""Helpers for the provider adapter unit tests: a world on a manual clock, wire requests.

The adapters are exercised without a server: a test builds a
:class:`WireRequest`, calls the handler, and checks the :class:`WireResponse`
body against the contract schema it names (what the HTTP layer does in every
test), or renders the MockError the handler raised as the HTTP layer would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.contracts import ProviderContract, load_contracts
from mockserver.domain.clock import ManualClock
from mockserver.domain.errors import MockError
from mockserver.domain.service import MockService
from mockserver.domain.webhooks import Delivery, Outbox
from mockserver.domain.world import World
from mockserver.providers import registry
from mockserver.providers.base import Handler, WireRequest, WireResponse
from mockserver.providers.common import AdapterBase

KEY = "test-key"
SERVER = "http://mock.test"


@dataclass
class Harness:
    """One world, one provider adapter, on a manual clock."""

    adapter: Any  # the concrete adapter: tests call its handlers by name
    contract: ProviderContract
    service: MockService
    world: World
    outbox: Outbox
    clock: ManualClock
    #: Plan overrides of a fault scenario, put on every request :meth:`call`
    #: runs, as the HTTP layer puts the chosen scenario's on the request.
    scenario: Mapping[str, Any] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        path_params: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> WireRequest:
        """A wire request as the HTTP layer would build it (lower-case headers)."""
        all_headers = {"content-type": "application/json"}
        if auth:
            all_headers.update(auth_headers(self.adapter.name))
        all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return WireRequest(
            method=method,
            path=path,
            path_params=dict(path_params or {}),
            query=dict(query or {}),
            headers=all_headers,
            body=payload,
            base_url=f"{SERVER}/{self.adapter.name}",
            media_base_url=SERVER,
        )

    def call(self, handler: Handler, request: WireRequest) -> WireResponse:
        """Run a handler; render a MockError as the one error handler does; check the schema.

        A handler that answers later (an awaitable) is run to completion here.
        """
        if self.scenario:
            request.scenario_overrides = self.scenario
        try:
            answer = handler(request)
            response = answer if isinstance(answer, WireResponse) else asyncio.run(_await(answer))
        except MockError as error:
            response = self.adapter.render_error(error, request)
        assert_schema(self.contract, response)
        return response

    def advance(self, seconds: float) -> None:
        """Move the clock and apply what became due (the background ticker's job)."""
        self.clock.advance(seconds)
        self.world.tick()

    def deliveries(self) -> list[Delivery]:
        """Everything in the webhook outbox."""
        return self.outbox.deliveries()


def auth_headers(provider: str, key: str = KEY) -> dict[str, str]:
    """The documented auth header of each provider (its kit's), lower-cased as the wire has it."""
    headers = registry.kit(provider).client.auth_headers(key)
    return {name.lower(): value for name, value in headers.items()}


def build(provider: str, *, seed: int = 7) -> Harness:
    """A fresh world on a manual clock with ``provider``'s adapter."""
    contract = registry.contract_of(provider, load_contracts())
    clock = ManualClock()
    world = World(clock, seed=seed)
    outbox = Outbox()
    service = MockService(world, outbox)
    adapter = registry.kit(provider).adapter(contract, service)
    assert isinstance(adapter, AdapterBase)
    return Harness(adapter, contract, service, world, outbox, clock)


def assert_schema(contract: ProviderContract, response: WireResponse) -> None:
    """The body satisfies the contract schema the response names."""
    assert response.schema, f"response without a schema pointer: {response.body}"
    problems = contract.validate(response.schema, response.body)
    assert problems == [], f"{response.schema}: {problems}\n{response.body}"


def webhook_headers(delivery: Delivery, timestamp: int) -> dict[str, str]:
    """Static plus signed headers of one attempt, lower-cased (as a receiver sees them)."""
    headers = dict(delivery.headers)
    if delivery.signer is not None:
        headers.update(delivery.signer(timestamp))
    return {k.lower(): v for k, v in headers.items()}


async def _await(answer: Awaitable[WireResponse]) -> WireResponse:
    return await answer
