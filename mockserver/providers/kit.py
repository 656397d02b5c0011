"""What one provider brings: the :class:`ProviderKit` each provider folder declares.

A provider is one folder, ``mockserver/providers/<name>/`` (or any importable
package of a user's own), whose ``__init__.py`` declares ``KIT =
ProviderKit(...)`` naming its pieces:

* ``adapter``: the wire adapter class (wire requests <-> the neutral job);
* ``parse_document``: its documents -> model contracts (``contracts build``);
* ``currency``: what its balances are counted in (the contract's
  ``billing.currency`` says the same; a test keeps them equal);
* ``semantic_fields``: response fields chaos never changes beside the common ones;
* ``client``: how a client talks to it (the requests it sends, where it reads
  the answers): the shapes tests, fuzz and the toy-provider recipe build on;
* ``job_fields``: the frozen dataclass its adapter keeps in
  ``Job.provider_fields`` (None: the adapter keeps nothing of its own); a
  store learns it here to write and read jobs (``store.codec``);
* ``contracts``: the folder holding its ``provider.yaml`` and ``models/``
  when it is not in the bundled contracts root (a provider added from outside).

Pure: no web framework or HTTP client imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mockserver.contracts import ProviderContract, load_provider_folder
from mockserver.derive.common import Contract, SourceDocument
from mockserver.providers.base import AdapterFactory

__all__ = ["DocumentParser", "ProviderKit", "WireCall", "WireClient"]

#: A provider's document parser: one source document -> one model contract.
DocumentParser = Callable[[SourceDocument], Contract]


@dataclass(frozen=True)
class WireCall:
    """One request a client sends: method, path under the provider root, JSON body, query."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None


class WireClient:
    """How a client talks to one provider, as data its tests and tools can drive.

    Subclasses fill the class attributes and override the methods whose
    shape differs; nothing here sends a request (the caller does, with its
    own HTTP client, under ``/<provider>`` or at the real host).
    """

    #: The model a test creates when it names none, and a valid input per model id.
    default_model: str = ""
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Status words of a job that ended well and one that failed.
    done_word: str = ""
    failed_word: str = ""
    #: Path of the balance endpoint under the provider root, or None.
    balance_path: str | None = None

    def auth_headers(self, key: str) -> dict[str, str]:
        """The documented auth header carrying ``key`` (bearer unless overridden)."""
        return {"Authorization": f"Bearer {key}"}

    def create(self, model: str, inputs: Mapping[str, Any], webhook: str | None) -> WireCall:
        """The create request of ``model`` with ``inputs`` (and a webhook URL)."""
        raise NotImplementedError

    def job_id(self, body: Any) -> str:
        """The job id in a create response body."""
        raise NotImplementedError

    def poll(self, job_id: str) -> WireCall:
        """The status request of a job."""
        raise NotImplementedError

    def status_word(self, body: Any) -> str:
        """The status word in a poll response body."""
        raise NotImplementedError

    def error_code(self, status: int, body: Any) -> int | None:
        """The provider error code a response carries, None for a success.

        By default the HTTP status when it is not 2xx; a provider whose errors
        travel in the body (with HTTP 200) overrides this.
        """
        return None if status < 300 else status


@dataclass(frozen=True)
class ProviderKit:
    """Everything that is one provider's own, named once (see the module text)."""

    name: str
    adapter: AdapterFactory
    currency: str
    client: WireClient
    parse_document: DocumentParser | None = None
    semantic_fields: frozenset[str] = frozenset()
    contracts: Path | None = None
    job_fields: type | None = None
    webhook_signers: tuple[Callable[..., dict[str, str]], ...] = ()

    def own_contract(self) -> ProviderContract | None:
        """The contract in the kit's own ``contracts`` folder (None: use the bundled root)."""
        if self.contracts is None:
            return None
        contract = load_provider_folder(self.contracts)
        if contract.name != self.name:
            raise ValueError(
                f"{self.contracts}: contract names provider {contract.name!r}, kit {self.name!r}"
            )
        return contract
