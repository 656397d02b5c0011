"""The one exception type of the mock.

Every expected failure (bad key, invalid input, unknown job, forced fault,
rate limit, empty balance) raises :class:`MockError`. The HTTP layer has one
handler that asks the provider adapter to render it in that provider's
envelope and transport, so no code path answers with an ad-hoc body.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field


@dataclass
class MockError(Exception):
    """A failure to answer in the provider's own error envelope.

    ``status`` is the provider-level code (400, 401, 402, 404, 422, 429, ...);
    whether it travels as the HTTP status or inside an HTTP 200 body is the
    provider's transport, decided when rendering. ``field`` and ``rule`` name
    the offending input and the violated constraint for validation errors.
    """

    status: int
    message: str
    field: str | None = None
    rule: str | None = None
    details: str | None = None
    retry_after: float | None = None
    headers: dict[str, str] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status}: {self.message}")
