"""The local certificate authority of the HTTPS proxy (``mockserver serve``).

A client with a hard-coded ``https://api.<provider>`` reaches the mock
through ``HTTPS_PROXY`` (see :mod:`mockserver.http.connect`); the mock then
answers TLS for the provider's host itself, with a certificate this CA
signs. The client trusts it through ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``
/ ``NODE_EXTRA_CA_CERTS`` pointing at ``ca.pem``.

The CA is made on first start with ``trustme`` (built on ``cryptography``),
stored in a per-user data directory (or ``--ca-dir``) and reused on later
starts, so a client configured once keeps working. The key never leaves that
directory (mode 0700, key file 0600); only the certificate is served
(``GET /_mock/ca.pem``). The leaf certificate, for the provider hosts only, is
issued afresh in memory on every start.
"""

from __future__ import annotations

import os
import shutil
import ssl
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import trustme

__all__ = ["CA_CERT_FILE", "CA_KEY_FILE", "CAError", "LocalCA", "default_ca_dir"]

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
_ORGANIZATION = "genmock local mock CA (trust only for testing)"


class CAError(Exception):
    """The CA directory cannot be read or created."""


def default_ca_dir() -> Path:
    """``<per-user data dir>/genmock/ca`` (XDG on Linux, the platform's elsewhere)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "genmock" / "ca"


class LocalCA:
    """A CA certificate and key on disk; issues the proxy's server certificate."""

    def __init__(self, directory: Path, ca: trustme.CA) -> None:
        self.directory = directory
        self._ca = ca

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT_FILE

    @property
    def cert_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    @classmethod
    def load_or_create(cls, directory: Path) -> LocalCA:
        """The CA stored in ``directory``; made there first if it holds none.

        Made in a private staging directory and renamed into place, so two
        servers starting at once end up with the same CA (the second rename
        fails and that server loads the first one's).
        """
        directory = directory.expanduser().absolute()
        if not (directory / CA_CERT_FILE).exists():
            cls._create(directory)
        try:
            ca = trustme.CA.from_pem(
                (directory / CA_CERT_FILE).read_bytes(), (directory / CA_KEY_FILE).read_bytes()
            )
        except (OSError, ValueError) as error:
            raise CAError(f"cannot load the proxy CA from {directory}: {error}") from error
        return cls(directory, ca)

    @staticmethod
    def _create(directory: Path) -> None:
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".genmock-ca-", dir=directory.parent))
        except OSError as error:
            raise CAError(f"cannot create the proxy CA directory {directory}: {error}") from error
        try:
            ca = trustme.CA(organization_name=_ORGANIZATION)
            key = staging / CA_KEY_FILE
            key.touch(mode=0o600)
            key.write_bytes(ca.private_key_pem.bytes())
            (staging / CA_CERT_FILE).write_bytes(ca.cert_pem.bytes())
            os.rename(staging, directory)  # atomic; replaces an empty directory only
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            if not (directory / CA_CERT_FILE).exists():
                raise CAError(
                    f"cannot store the proxy CA in {directory} (not empty, or not writable: "
                    f"{error.strerror}); pass an empty or new --ca-dir"
                ) from error

    def server_context(self, hosts: Iterable[str]) -> ssl.SSLContext:
        """A TLS server context with one certificate for every host in ``hosts``.

        HTTP/1.1 only (ALPN), since the tunnel's inner requests go to an
        HTTP/1.1 protocol.
        """
        leaf = self._ca.issue_cert(*sorted(hosts), organization_name=_ORGANIZATION)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        context.set_alpn_protocols(["http/1.1"])
        return context
