"""Developer sessions: ``nox`` runs tests, lint, typing and the contracts check.

Every session installs the project with its dev extras into its own virtual
environment; arguments after ``--`` pass through to the tool
(``nox -s tests -- -k webhook``).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["contracts", "lint", "typing", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
#: Every Python the package claims (pyproject's classifiers); `tests` runs on each.
PYTHONS = ["3.11", "3.12", "3.13"]


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (in parallel on two workers) on each supported Python."""
    _install(session)
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the package, tests and this file."""
    session.install("ruff")
    session.run("ruff", "check", "mockserver", "tests", "noxfile.py", *session.posargs)


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy --strict over the package."""
    _install(session)
    session.run("mypy", *session.posargs)


def _providers(session: nox.Session) -> list[str]:
    """The provider names, from the installed package's registry (the one list of them)."""
    printed = session.run(
        "python", "-c",
        "from mockserver.providers import registry; print(' '.join(registry.names()))",
        silent=True,
    )
    return str(printed).split()


@nox.session(python=PYTHON)
def contracts(session: nox.Session) -> None:
    """Check that the committed contracts are exactly what the documents derive."""
    _install(session)
    session.run("mockserver", "contracts", "check", *session.posargs)


@nox.session(python=PYTHON)
def openapi(session: nox.Session) -> None:
    """Write each provider's OpenAPI document under build/openapi/."""
    _install(session)
    for provider in _providers(session):
        session.run(
            "mockserver", "openapi", provider, "--output", f"build/openapi/{provider}.json"
        )


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The mock passes its own fuzzing: schemathesis, 500 examples per operation, seed 1."""
    _install(session)
    for provider in _providers(session):
        session.run(
            "mockserver", "fuzz", "--provider", provider, "--max-examples", "500",
            "--seed", "1", "--report", f"build/fuzz/{provider}.xml", *session.posargs,
        )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: served (wrk vs a bare Starlette baseline), in-process, store, cold start,
    fuzz; one table and bench/results.json. Install wrk first (apt-get install wrk)."""
    _install(session)
    session.install("granian")
    session.run("python", "bench/run_all.py", *session.posargs)
