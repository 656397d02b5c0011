"""The HTTP layer: the Starlette app, the admin API, media, the webhook sender, serve.

Only this package (and the CLI) imports starlette, httpx and uvicorn; the
domain, the contracts and the provider adapters stay framework-free.
"""

from mockserver.http.app import create_app
from mockserver.http.state import ContractViolation, MockState, UnhandledError

__all__ = ["ContractViolation", "MockState", "UnhandledError", "create_app"]
