"""Where webhooks may go: the mock must not become an SSRF tool.

A webhook URL is checked twice: as written when the job is created (the
provider answers its 400/422 naming the field), and again by the sender
before each attempt, against every address the host resolves to (a name
may resolve somewhere else by then).

The rule (:class:`WebhookTargetPolicy`):

* never an unspecified address (``0.0.0.0``, ``::``), a link-local one
  (``169.254.0.0/16``, ``fe80::/10``: cloud metadata lives there) or a known
  metadata address (``fd00:ec2::254``), whatever the configuration;
* never an IPv4 address written other than as four decimal numbers
  (``2130706433``, ``0x7f.1``, ``0177.0.0.1``): such spellings exist to slip
  past checks;
* never a path under ``/_mock`` (the mock's own admin API: a job whose
  webhook is ``.../_mock/reset`` would wipe every job), on any host, since
  behind a proxy or a port forward the mock cannot tell its own address;
* by default, only loopback: ``localhost``, ``*.localhost``, ``127.0.0.0/8``,
  ``::1``, plus the hosts the user lists (``[security] webhook_hosts``) and
  names under ``.invalid`` (they never resolve; fuzzers use them);
* ``[security] webhook_any_host = true`` widens that to every other host and
  address (private ranges included), the "never" list still applying.

Pure: resolution is the caller's (the HTTP sender does it, off the loop).
"""

from __future__ import annotations

import ipaddress
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["ADMIN_PREFIX", "WebhookTargetPolicy", "address_problem"]

#: The mock's admin API: never a webhook target.
ADMIN_PREFIX = "/_mock"
#: Metadata services outside link-local ranges (AWS's IPv6 one).
_METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254")})
_LOOPBACK_NAMES = ("localhost",)


def address_problem(address: str) -> str | None:
    """Why an IP address is never a webhook target, or None (the "never" list only)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return f"the unspecified address {ip} is never a webhook target"
    if ip.is_link_local or ip in _METADATA:
        return f"{ip} is a link-local or cloud metadata address, never a webhook target"
    if ip.is_multicast:
        return f"{ip} is a multicast address, never a webhook target"
    return None


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _encoded_ipv4(host: str) -> bool:
    """A host that inet_aton would read as IPv4 but is not four decimal numbers."""
    parts = host.split(".")
    if not all(parts) or len(parts) > 4:
        return False
    if not all(p.isdigit() or p.lower().startswith("0x") for p in parts):
        return False
    if len(parts) != 4:
        return True  # 2130706433, 127.1, 0x7f.1
    # 0177.0.0.1 (octal) and 0x7f.0.0.1 (hex); ipaddress refuses both.
    return any(p.lower().startswith("0x") or (len(p) > 1 and p.startswith("0")) for p in parts)


def _admin_path(path: str) -> bool:
    normal = posixpath.normpath("/" + unquote(path).lstrip("/")) if path else "/"
    normal = "/" + normal.lstrip("/")
    return normal == ADMIN_PREFIX or normal.startswith(ADMIN_PREFIX + "/")


@dataclass(frozen=True)
class WebhookTargetPolicy:
    """Which webhook URLs are allowed (see the module docstring)."""

    #: Host names (lower-case) allowed besides loopback.
    hosts: frozenset[str] = frozenset()
    #: True: any host or address but the "never" list.
    any_host: bool = False

    @classmethod
    def of(cls, hosts: Iterable[str] = (), any_host: bool = False) -> WebhookTargetPolicy:
        """From configured host names (case and a trailing dot ignored)."""
        return cls(frozenset(h.strip().rstrip(".").lower() for h in hosts if h.strip()), any_host)

    def listed(self, host: str) -> bool:
        """Whether the user listed ``host``."""
        return host in self.hosts

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` (already a valid absolute http(s) URL) is not allowed, or None."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".").lower()
        except ValueError as error:
            return f"is not a valid URL ({error})"
        if _admin_path(parts.path):
            return f"points at the mock's own admin API ({ADMIN_PREFIX}/...), never a target"
        if _encoded_ipv4(host):
            return (
                f"host {host!r} is an encoded IPv4 address; write addresses as four decimal "
                "numbers"
            )
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return self._name_problem(host)
        return self.address_allowed(host, host)

    def _name_problem(self, host: str) -> str | None:
        if self.any_host or self.listed(host):
            return None
        if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
            return None
        if host.endswith(".invalid"):
            return None  # RFC 6761: never resolves, so never reaches anything (fuzzers use it)
        return (
            f"host {host!r} is not allowed: webhooks go to loopback and the hosts listed in "
            "[security] webhook_hosts (or set webhook_any_host = true)"
        )

    def address_allowed(self, host: str, address: str) -> str | None:
        """Why ``host``, resolved to ``address``, is not a target; None when it is."""
        problem = address_problem(address)
        if problem is not None:
            return problem
        if self.any_host or self.listed(host) or self.listed(address) or _is_loopback(address):
            return None
        return (
            f"{address} is not a loopback address: webhooks go to loopback and the hosts "
            "listed in [security] webhook_hosts (or set webhook_any_host = true)"
        )
