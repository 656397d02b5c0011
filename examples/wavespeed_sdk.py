"""The official ``wavespeed`` SDK (built on ``requests``) against the served mock.

``requests`` is not httpx, so respx cannot intercept it: use the served mock
and pass its URL as the SDK's ``base_url``. The SDK polls with
``time.sleep(poll_interval)`` and a manual clock never moves by itself, so
configure the mock to finish jobs by polls (``jobs.polls_per_phase``) or use a
fast real clock (``clock="real", speed=...``).
"""

from __future__ import annotations

import requests
import wavespeed

MODEL = "wavespeed-ai/wan-2.2/image-to-video"


def animate(client: wavespeed.Client, image_url: str, prompt: str) -> bytes:
    """Run the model, wait for it, download the first output: the video's bytes."""
    result = client.run(MODEL, {"image": image_url, "prompt": prompt, "duration": 5},
                        poll_interval=0.01, timeout=30)
    response = requests.get(result["outputs"][0], timeout=10)
    response.raise_for_status()
    return response.content
