"""Domain logic of the mock: pure Python, no HTTP framework.

Nothing in this package imports starlette, httpx, respx or uvicorn; the HTTP
layer drives it and renders what it returns.
"""
