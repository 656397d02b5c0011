"""Fuzz cases per second: ``mockserver fuzz --provider wavespeed --max-examples 20 --seed 1``.

Runs the command and parses its ``(N cases/s)`` summary line.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from _common import PYTHON, ROOT, env

COMMAND = ["fuzz", "--provider", "wavespeed", "--max-examples", "20", "--seed", "1"]


def run() -> dict[str, float | str]:
    mockserver = str(Path(PYTHON).parent / "mockserver")
    out = subprocess.run([mockserver, *COMMAND], cwd=ROOT, env=env(), capture_output=True,
                         text=True, timeout=600)
    text = out.stdout + out.stderr
    match = re.search(r"(\d+) cases.*?in ([\d.]+) s \(([\d.]+) cases/s\)", text)
    if not match:
        raise RuntimeError(f"no cases/s line in the fuzz output:\n{text[-2000:]}")
    return {"cases": int(match.group(1)), "seconds": float(match.group(2)),
            "cases_per_s": float(match.group(3)), "command": "mockserver " + " ".join(COMMAND),
            "summary": text.strip().splitlines()[-1]}


if __name__ == "__main__":
    result = run()
    print(f"fuzz: {result['cases_per_s']} cases/s ({result['summary']})")
