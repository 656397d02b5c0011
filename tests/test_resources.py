"""Memory plateaus under hostile volumes (issue 16, item 3): RSS within the documented bound.

A fresh process (``tests/resource_probe.py``) creates jobs with a new API key
each, then 40 jobs with 9 MiB bodies, with small store bounds so the plateau
comes early; RSS is read at checkpoints. Bounded: about 25,000 creates, well
under a minute. The full-size figures (200,000 keys, default bounds) come
from ``bench/resources.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MIB = 1024 * 1024
CREATES, JOBS, KEYS = 24_000, 4_000, 1_500
JOB_BYTES, JOURNAL_BYTES = 32 * MIB, 8 * MIB
#: Slack for the allocator and caches beside the byte bounds (README: Limits).
SLACK_MIB = 64


def test_rss_plateaus_under_unique_keys_and_9_mib_bodies() -> None:
    probe = Path(__file__).with_name("resource_probe.py")
    done = subprocess.run(
        [sys.executable, str(probe), str(CREATES), str(JOBS), str(KEYS), str(JOB_BYTES),
         str(JOURNAL_BYTES)],
        capture_output=True, text=True, timeout=240, check=True,
    )
    figures = json.loads(done.stdout)
    keys = list(figures["unique_keys"].values())
    # Stores full after a third of the creates: RSS stops growing there.
    assert keys[-1] - keys[1] < 8, figures
    assert figures["stored"]["keys"] <= KEYS and figures["stored"]["jobs"] <= JOBS, figures
    big = list(figures["big_bodies"].values())
    assert big[-1] - big[0] < 8, figures  # ten 9 MiB bodies in, thirty more change nothing
    bound = (JOB_BYTES + JOURNAL_BYTES) / MIB + SLACK_MIB
    assert big[-1] - keys[-1] < bound, figures
    assert figures["stored"]["job_bytes"] <= JOB_BYTES, figures
    assert figures["stored"]["journal_bytes"] <= JOURNAL_BYTES, figures
