"""Effects and scenarios: what a fault does, as data.

A :class:`Scenario` is a name, a description and three kinds of effect: on
the HTTP response (:class:`ResponseEffect`), on the job's lifecycle
(:class:`JobEffect`) and on its webhook deliveries (:class:`WebhookEffect`).
:func:`combine` merges several (the later wins where two set the same
effect); :func:`forced_code` is the scenario of ``Prefer: code=``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from mockserver.domain.errors import MockError

__all__ = [
    "ALLOWED_CODES",
    "DEFAULT_SLOW_DELAY_SECONDS",
    "MAX_DELAY_SECONDS",
    "Effects",
    "JobEffect",
    "ResponseEffect",
    "Scenario",
    "ScenarioError",
    "WebhookEffect",
    "combine",
    "forced_code",
]

#: Error codes ``Prefer: code=`` (and magic values) may force.
ALLOWED_CODES = frozenset({400, 401, 402, 404, 422, 429, 455, 500, 501, 502, 503, 504, 505})
#: Real seconds the ``slow`` scenario waits before answering.
DEFAULT_SLOW_DELAY_SECONDS = 3.0
#: Longest delay a request may ask for; more would only hang test suites.
MAX_DELAY_SECONDS = 300.0

#: A three-digit code (a magic value naming a code rather than a scenario).
CODE = re.compile(r"[0-9]{3}")


class ScenarioError(MockError):
    """A scenario request the mock cannot honour: the HTTP layer answers 400.

    Raised for a bad ``Prefer`` value, an unknown scenario name, a code
    outside :data:`ALLOWED_CODES` or a malformed queue entry. It is a
    :class:`MockError` with status 400, but it is about the mock's controls,
    not the provider's API, so the HTTP layer may render it plainly.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(400, message, field=field, rule="scenario")


@dataclass(frozen=True)
class ResponseEffect:
    """What happens to the HTTP response of the request."""

    #: Answer with this error code in the provider's envelope instead.
    status: int | None = None
    #: Wait this many real seconds before answering.
    delay_seconds: float = 0.0
    #: Close the connection without answering (before the status line).
    drop_connection: bool = False
    #: Send the status line and headers, promising a body, then close the connection.
    drop_after_headers: bool = False
    #: Send a body that is not JSON.
    malformed_body: bool = False
    #: Send the first half of the body only.
    truncated_body: bool = False
    #: Client fuzzing: valid but adversarial bodies and lifecycle (mockserver.chaos).
    chaos: bool = False


@dataclass(frozen=True)
class JobEffect:
    """What happens to the job the request creates."""

    outcome: Literal["failed"] | None = None
    #: A key of the provider contract's ``errors.job_failures`` (``None``: its default).
    failure: str | None = None
    #: The job never finishes.
    stuck: bool = False
    #: A WaveSpeed sync-mode create returns before the job ends (code 5004).
    sync_timeout: bool = False
    #: The output URL expires the moment the job succeeds.
    output_expired: bool = False


@dataclass(frozen=True)
class WebhookEffect:
    """What happens to the job's webhook deliveries (the sender honours these)."""

    #: Every attempt meets a refused connection (nothing reaches the receiver).
    refused: bool = False
    #: Every attempt times out.
    timeout: bool = False
    #: The final delivery is sent twice.
    duplicate: bool = False
    #: After the final delivery, a payload of an earlier state is sent.
    out_of_order: bool = False


@dataclass(frozen=True)
class Effects:
    """The three kinds of effect together; what a scenario factory returns."""

    response: ResponseEffect = ResponseEffect()
    job: JobEffect = JobEffect()
    webhook: WebhookEffect = WebhookEffect()


def _merge(base: Any, top: Any) -> Any:
    """Field-wise: ``top``'s non-default values over ``base``."""
    changes = {
        f.name: getattr(top, f.name) for f in fields(top) if getattr(top, f.name) != f.default
    }
    return replace(base, **changes)


@dataclass(frozen=True)
class Scenario:
    """A named, described set of effects."""

    name: str
    description: str
    response: ResponseEffect = ResponseEffect()
    job: JobEffect = JobEffect()
    webhook: WebhookEffect = WebhookEffect()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (only effects that differ from normal)."""

        def changed(effect: Any) -> dict[str, Any]:
            return {
                f.name: getattr(effect, f.name)
                for f in fields(effect)
                if getattr(effect, f.name) != f.default
            }

        return {
            "name": self.name,
            "description": self.description,
            "response": changed(self.response),
            "job": changed(self.job),
            "webhook": changed(self.webhook),
        }

    def with_delay(self, seconds: float) -> Scenario:
        """This scenario with the response delayed by ``seconds``."""
        return replace(self, response=replace(self.response, delay_seconds=seconds))


def combine(*scenarios: Scenario | None) -> Scenario | None:
    """Merge scenarios; later ones win where both set the same effect."""
    present = [s for s in scenarios if s is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    result = present[0]
    for other in present[1:]:
        result = Scenario(
            name=f"{result.name}+{other.name}",
            description=f"{result.description}; {other.description}",
            response=_merge(result.response, other.response),
            job=_merge(result.job, other.job),
            webhook=_merge(result.webhook, other.webhook),
        )
    return result


def forced_code(status: int | str) -> Scenario:
    """The scenario that answers with error ``status``; :class:`ScenarioError` if not allowed."""
    text = str(status).strip()
    if not CODE.fullmatch(text) or int(text) not in ALLOWED_CODES:
        allowed = " ".join(str(c) for c in sorted(ALLOWED_CODES))
        raise ScenarioError(f"code must be one of {allowed}; got {status!r}", field="code")
    code = int(text)
    return Scenario(
        name=f"code={code}",
        description=f"answer {code} in the provider's error envelope",
        response=ResponseEffect(status=code),
    )
