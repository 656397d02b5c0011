"""The faults wing: named scenarios, the ``Prefer`` header, queued scenarios, magic values.

A :class:`Scenario` is data: effects on the HTTP response, on the job's
lifecycle and on its webhook deliveries. This module only decides *which*
scenario applies to a request; the HTTP layer, the world and the webhook
sender interpret the effects. Scenario definitions live in a registry filled
by a decorator at import time and frozen afterwards (like schemathesis'
checks); everything that changes at run time (the queue) is an instance.

Built-in scenarios (``SCENARIOS``):

==========================  ===================================================
name                        effect
==========================  ===================================================
``job_failed``              the job runs, then fails (provider's default failure)
``job_failed:<kind>``       same, with that failure from the provider contract's
                            ``errors.job_failures`` (``content_moderation``,
                            ``invalid_input_media``, ``timeout``,
                            ``generation_failed``; WaveSpeed codes such as
                            ``job_failed:1200`` work too)
``job_stuck``               the job is accepted and never finishes
``slow``                    the response comes after a delay (default 3 s,
                            ``Prefer: delay=<s>`` to change it)
``drop_connection``         the connection closes before the status line: no response
``drop_after_headers``      the status line and headers (promising a body), then
                            the connection closes
``malformed_body``          the response body is not valid JSON
``truncated_body``          the response body is cut off halfway
``webhook_refused``         each webhook delivery meets a refused connection
``webhook_timeout``         each webhook delivery times out
``webhook_duplicate``       the final webhook is delivered twice
``webhook_out_of_order``    a stale earlier-state payload arrives after the final one
``output_expired``          the job succeeds, but its output URL has already
                            expired: fetching it gets the storage's 403
``sync_timeout``            a WaveSpeed sync-mode create gives up waiting
                            (``data.status: processing``, ``data.code: 5004``)
``chaos``                   schema-valid but adversarial responses and a
                            perturbed lifecycle, from a seed
                            (``Prefer: scenario=chaos, seed=7``; see
                            :mod:`mockserver.chaos`)
==========================  ===================================================

Choosing a scenario, strongest first: the ``Prefer`` header, then an entry
queued with ``POST /_mock/scenarios``, then a magic API key, then a prompt
marker (:mod:`~mockserver.faults.selection` applies this order; :func:`combine`
merges several).

Magic values (Stripe-test-card style) — the lead copies this table to the README:

==========================================  ==========================================
value                                       effect
==========================================  ==========================================
``Prefer: code=429``                        that error in the provider's envelope; codes
                                            400 401 402 404 422 429 455 500 501 502 503
                                            504 505 (others: 400 from the mock)
``Prefer: scenario=job_failed``             the named scenario (unknown name: 400)
``Prefer: scenario=slow, delay=10``         ``slow`` with a 10 s delay
API key ``scenario-<name>[-anything]``      the named scenario for every request with
                                            the key, e.g. ``scenario-job_failed-ci``,
                                            ``scenario-job_failed:timeout``
API key ``scenario-<code>[-anything]``      that error code, e.g. ``scenario-429``
``[mock:<name>]`` in any text input         the named scenario for that create, e.g. a
                                            prompt ``"a cat [mock:job_stuck]"``;
                                            several markers combine
``[mock:<code>]`` in any text input         that error code, e.g. ``[mock:402]``
API key ``sk_invalid``, ``invalid…``        401 (see ``accounts``)
API key ``nofunds…``                        valid key with balance 0: 402 on create
==========================================  ==========================================

Magic values are matched ignoring the case of the ``scenario-`` prefix; the
scenario name itself is case-sensitive. An unknown name in a magic value is a
400, so a typo never silently runs the happy path.

One idea per module:

* :mod:`~mockserver.faults.effects` — effects and scenarios (data), ``combine``;
* :mod:`~mockserver.faults.registry` — the registry and the built-in scenarios;
* :mod:`~mockserver.faults.prefer` — the ``Prefer`` header;
* :mod:`~mockserver.faults.queue` — scenarios queued through the admin API;
* :mod:`~mockserver.faults.magic` — magic API keys and prompt markers;
* :mod:`~mockserver.faults.selection` — which scenario a call gets (the
  precedence above), carried on the request to the adapter;
* :mod:`~mockserver.faults.chaos` — the chaos hook, with its engine owned by
  the app.

Nothing here imports Starlette or httpx: the HTTP layer only asks
:func:`~mockserver.faults.selection.select_scenario` and applies the
response effects.
"""

from __future__ import annotations

from mockserver.faults.effects import (
    ALLOWED_CODES,
    DEFAULT_SLOW_DELAY_SECONDS,
    MAX_DELAY_SECONDS,
    Effects,
    JobEffect,
    ResponseEffect,
    Scenario,
    ScenarioError,
    WebhookEffect,
    combine,
    forced_code,
)
from mockserver.faults.magic import MAGIC_KEY_PREFIX, PROMPT_MARKER, scenario_from_magic
from mockserver.faults.prefer import Preference, parse_prefer
from mockserver.faults.queue import (
    MAX_QUEUED,
    Match,
    MatchVocabulary,
    QueuedScenario,
    ScenarioQueue,
)
from mockserver.faults.registry import SCENARIOS, ScenarioRegistry

__all__ = [
    "ALLOWED_CODES",
    "DEFAULT_SLOW_DELAY_SECONDS",
    "MAGIC_KEY_PREFIX",
    "MAX_DELAY_SECONDS",
    "MAX_QUEUED",
    "PROMPT_MARKER",
    "SCENARIOS",
    "Effects",
    "JobEffect",
    "Match",
    "MatchVocabulary",
    "Preference",
    "QueuedScenario",
    "ResponseEffect",
    "Scenario",
    "ScenarioError",
    "ScenarioQueue",
    "ScenarioRegistry",
    "WebhookEffect",
    "combine",
    "forced_code",
    "parse_prefer",
    "scenario_from_magic",
]
