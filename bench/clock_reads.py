"""How many times one create and one poll read the clock, and where (WIRING.md).

With a store-backed clock each read would be a Redis round trip unless the
request reuses the ``now`` its store operation returned; this counts them
for every provider through the in-process app.

    .venv/bin/python bench/clock_reads.py
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from http_api import PROVIDERS, Api

from mockserver.domain.clock import ManualClock
from mockserver.http.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


class CountingClock(ManualClock):
    """A manual clock that counts its reads by calling function."""

    def __init__(self) -> None:
        super().__init__()
        self.where: Counter[str] = Counter()

    def now(self) -> float:
        caller = traceback.extract_stack(limit=2)[0]
        self.where[f"{caller.filename.split('mockserver/')[-1]}:{caller.name}"] += 1
        return super().now()


def main() -> None:
    for provider in PROVIDERS:
        clock = CountingClock()
        with TestClient(create_app(clock=clock)) as http:
            api = Api(http, provider, "sk-clock-reads")
            api.set(limits={"creates_per_window": 100})
            api.create_ok()
            clock.where.clear()
            job = api.create_ok(webhook="http://127.0.0.1:9/hook")
            create = dict(clock.where)
            clock.where.clear()
            api.poll(job)
            poll = dict(clock.where)
        print(f"{provider}: create {sum(create.values())} reads {create}")
        print(f"{' ' * len(provider)}  poll   {sum(poll.values())} reads {poll}")


if __name__ == "__main__":
    main()
