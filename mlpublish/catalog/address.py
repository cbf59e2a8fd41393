"""The identity of an OpenMetadata catalog, whatever way its address was typed.

Outbox events are keyed by ``catalog_key(address)``, never by the text of the address, so that a worker
configured with ``http://127.0.0.1:8585/api`` and a relay configured with ``http://localhost:8585`` (the
Airflow connection's form) name the same catalog. The key is a URL made of:

* the scheme, lower-case (``http`` or ``https``);
* the host, lower-case, IDNA-encoded (UTS 46: ``Bücher.Example`` -> ``xn--bcher-kva.example``), a trailing
  dot dropped, an IPv6 address in its short form; ``localhost``, ``127.0.0.1`` and ``::1`` are the same
  machine and all become ``localhost``. No DNS lookup: a name and its address are different keys (what a
  name resolves to differs between containers and over time);
* the port, always written (80 for http, 443 for https when none is given);
* the API path: the path without a trailing slash, with ``/api`` appended when it does not end in it
  (as the Airflow hook and the Dagster resource build the address: the SDK itself sends ``<hostPort>/v1/...``).

User name, password, query and fragment are not part of the identity (and so never appear in a key).
``api_url`` is the address the SDK is given: the one typed, with the same API path.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

import idna

from mlpublish.errors import CatalogUnavailable
from mlpublish.redact import scrub

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = "localhost"
_LOOPBACK_ADDRESSES = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}


def _api_path(path: str) -> str:
    path = path.rstrip("/")
    return path if path.endswith("/api") else f"{path}/api"


def _split(address: str) -> tuple[str, str, int, str]:
    """(scheme, host as typed, port, API path) of an address; refuses what is not an http(s) URL."""
    text = address.strip()
    if "://" not in text:
        text = f"http://{text}"  # "om:8585/api" as some forms take it
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in DEFAULT_PORTS or not parts.hostname or port == -1:
        raise CatalogUnavailable(
            f"OpenMetadata address {scrub(address)!r} is not an http(s) URL with a host "
            "(expected e.g. http://openmetadata:8585/api)"
        )
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme], _api_path(parts.path)


def canonical_host(host: str) -> str:
    """The host part of a key: loopback as ``localhost``, IP addresses in short form, names IDNA-encoded."""
    host = host.strip().rstrip(".").lower()
    if host == LOOPBACK or host.endswith(".localhost"):
        return LOOPBACK
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        mapped = getattr(ip, "ipv4_mapped", None)
        ip = mapped or ip
        if ip in _LOOPBACK_ADDRESSES:
            return LOOPBACK
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host  # not a valid IDNA name (an underscore, say): its lower-case text is still a stable key


def catalog_key(address: str) -> str:
    """The catalog's identity: ``scheme://host:port/path`` (see the module docstring)."""
    scheme, host, port, path = _split(address)
    return f"{scheme}://{canonical_host(host)}:{port}{path}"


def api_url(address: str) -> str:
    """The address as typed (credentials kept), with the API path the key has: what the SDK is given."""
    _split(address)  # refuse what is not a URL with the same message as the key
    text = address.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    return urlunsplit((parts.scheme.lower(), parts.netloc, _api_path(parts.path), "", ""))


def try_catalog_key(address: str) -> str:
    """``catalog_key``, or the address itself when it cannot be read (a row written by hand: left as it is)."""
    try:
        return catalog_key(address)
    except CatalogUnavailable:
        return address
