"""genmock: contract tests and a mock server for async AI media-generation APIs."""

#: The package version: the one source of truth (pyproject reads it, ``--version`` prints it).
__version__ = "0.1.0"

__all__: list[str] = ["__version__"]
