"""The mock as the served benchmark runs it under a server other than ``mockserver serve``.

``granian --interface asgi --factory mock_app:app`` (working dir bench/): the
same app ``mockserver serve --config bench/bench.toml`` builds.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette

from mockserver.config import MockConfig
from mockserver.http.app import create_app


def app() -> Starlette:
    logging.getLogger("mockserver").setLevel(logging.WARNING)
    return create_app(MockConfig.load(Path(__file__).with_name("bench.toml")))
