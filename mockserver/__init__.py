"""genmock: contract tests and a mock server for async AI media-generation APIs."""

__all__: list[str] = []
