"""The catalog identity of an OpenMetadata address (mlpublish.catalog.address)."""

from __future__ import annotations

import pytest

from mlpublish.catalog.address import api_url, catalog_key
from mlpublish.errors import CatalogUnavailable

# every spelling of the one local catalog of the issue, and more
SAME_LOCAL_CATALOG = [
    "http://127.0.0.1:8585",  # the Airflow connection's form
    "http://localhost:8585/api",
    "http://127.0.0.1:8585/api",  # the workers' form
    "http://127.0.0.1:8585/api/",
    "HTTP://LocalHost:8585/api",
    "http://localhost.:8585/",
    "http://[::1]:8585/api",
    "http://[0:0:0:0:0:0:0:1]:8585",
    "http://[::ffff:127.0.0.1]:8585/api",
    " http://localhost:8585/api ",
    "http://bot:s3cret@localhost:8585/api",  # credentials are not part of the identity
    "http://localhost:8585/api?x=1#frag",
    "localhost:8585/api",  # no scheme: http
]


@pytest.mark.parametrize("address", SAME_LOCAL_CATALOG)
def test_every_spelling_of_one_catalog_has_one_key(address: str) -> None:
    assert catalog_key(address) == "http://localhost:8585/api"


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("http://openmetadata:8585/api", "http://openmetadata:8585/api"),
        ("http://OpenMetadata.Example.COM:8585", "http://openmetadata.example.com:8585/api"),
        ("https://om.example.com/api", "https://om.example.com:443/api"),
        ("https://om.example.com:443", "https://om.example.com:443/api"),
        ("http://om.example.com", "http://om.example.com:80/api"),
        ("http://Bücher.Example:8585/api", "http://xn--bcher-kva.example:8585/api"),  # IDNA (UTS 46)
        ("http://xn--bcher-kva.example:8585/api", "http://xn--bcher-kva.example:8585/api"),
        ("http://proxy:80/openmetadata/", "http://proxy:80/openmetadata/api"),
        ("http://10.0.0.7:8585/api", "http://10.0.0.7:8585/api"),
    ],
)
def test_keys_are_canonical_urls(address: str, key: str) -> None:
    assert catalog_key(address) == key


@pytest.mark.parametrize(
    "other",
    [
        "http://localhost:8586/api",  # another port
        "https://localhost:8585/api",  # another scheme
        "http://openmetadata:8585/api",  # another host (no DNS lookup: a name is not its address)
        "http://127.0.0.2:8585/api",  # another loopback address is another server
        "http://localhost:8585/other/api",  # another API path
    ],
)
def test_different_catalogs_have_different_keys(other: str) -> None:
    assert catalog_key(other) != catalog_key("http://127.0.0.1:8585/api")


def test_the_key_never_carries_credentials() -> None:
    assert "s3cret" not in catalog_key("https://bot:s3cret@om.example.com/api?token=s3cret")


def test_api_url_keeps_the_address_as_typed_with_the_api_path() -> None:
    assert api_url("http://127.0.0.1:8585") == "http://127.0.0.1:8585/api"
    assert api_url("http://localhost:8585/api/") == "http://localhost:8585/api"
    assert api_url("https://om.example.com/api") == "https://om.example.com/api"


@pytest.mark.parametrize("bad", ["", "ftp://om:21/api", "http://:8585/api", "http://om:notaport/api"])
def test_what_is_not_an_http_url_is_refused_without_secrets(bad: str) -> None:
    with pytest.raises(CatalogUnavailable, match="not an http\\(s\\) URL"):
        catalog_key(bad)
