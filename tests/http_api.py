"""A small client of every provider API for the acceptance tests.

Each call goes over HTTP (a ``served`` app with httpx, or the in-process
``client``) exactly as a user's client would send it; the wire shapes come
from each provider kit's ``client`` (``mockserver/providers/<name>/client.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from mockserver.providers import registry
from mockserver.providers.kit import WireCall

IMAGE = "https://example.com/frame.png"

#: Every provider, from the one registry; each kit's ``client`` knows its wire shapes.
PROVIDERS = registry.names()
#: The default model of each provider and a valid minimal input for each model.
MODELS = {name: kit.client.default_model for name, kit in registry.kits().items()}
INPUTS: dict[str, dict[str, Any]] = {
    model: dict(values)
    for kit in registry.kits().values()
    for model, values in kit.client.inputs.items()
}
#: Status word of a finished job, per provider.
DONE = {name: kit.client.done_word for name, kit in registry.kits().items()}
FAILED = {name: kit.client.failed_word for name, kit in registry.kits().items()}


class Api:
    """One key at one provider, over an httpx client pointed at the mock."""

    def __init__(self, http: httpx.Client, provider: str, key: str) -> None:
        self.http = http
        self.provider = provider
        self.key = key
        self.client = registry.kit(provider).client

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**self.client.auth_headers(self.key), **(extra or {})}

    def send(self, call: WireCall, headers: dict[str, str],
             query: dict[str, str] | None = None) -> httpx.Response:
        """One of the kit's requests, under ``/<provider>`` on the mock."""
        params = {**(call.params or {}), **(query or {})} or None
        return self.http.request(call.method, f"/{self.provider}{call.path}", json=call.json,
                                 headers=headers, params=params)

    def create(
        self,
        model: str | None = None,
        inputs: dict[str, Any] | None = None,
        *,
        webhook: str | None = None,
        prefer: str | None = None,
        query: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a create of ``model`` (default: the provider's) with ``inputs`` added."""
        model = model or MODELS[self.provider]
        values = {**INPUTS[model], **(inputs or {})}
        headers = self.headers({"Prefer": prefer} if prefer else None)
        return self.send(self.client.create(model, values, webhook), headers, query)

    def job_id(self, response: httpx.Response) -> str:
        return self.client.job_id(response.json())

    def create_ok(self, model: str | None = None, inputs: dict[str, Any] | None = None,
                  **kwargs: Any) -> str:
        """Create and return the job id; the create must succeed."""
        response = self.create(model, inputs, **kwargs)
        assert response.status_code == 200, response.text
        assert error_code(self.provider, response) is None, response.text
        return self.job_id(response)

    def poll(self, job_id: str, *, prefer: str | None = None) -> httpx.Response:
        headers = self.headers({"Prefer": prefer} if prefer else None)
        return self.send(self.client.poll(job_id), headers)

    def status(self, job_id: str) -> str:
        """The job's wire status word, from a poll."""
        response = self.poll(job_id)
        assert response.status_code == 200, response.text
        return self.client.status_word(response.json())

    def balance_endpoint(self) -> httpx.Response:
        path = self.client.balance_path
        assert path is not None, f"{self.provider} has no balance endpoint"
        return self.http.get(f"/{self.provider}{path}", headers=self.headers())

    # --- admin ---------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """This key's account at this provider (``GET /_mock/accounts/{key}``)."""
        described = self.http.get(f"/_mock/accounts/{self.key}").json()
        account: dict[str, Any] = described["accounts"][self.provider]
        return account

    def balance(self) -> Decimal:
        return Decimal(str(self.account()["balance"]))

    def set(self, **fields: Any) -> None:
        """``PUT /_mock/accounts/{key}`` for this provider."""
        reply = self.http.put(f"/_mock/accounts/{self.key}",
                              json={"provider": self.provider, **fields})
        assert reply.status_code == 200, reply.text


def error_code(provider: str, response: httpx.Response) -> int | None:
    """The provider error code a response carries, or None for a success (the kit knows where)."""
    try:
        body = response.json()
    except ValueError:  # a fault scenario's deliberately broken body
        body = None
    return registry.kit(provider).client.error_code(response.status_code, body)


def advance(http: httpx.Client, seconds: float) -> None:
    """Move the manual clock and wait until what became due has happened."""
    reply = http.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert reply.status_code == 200, reply.text
