"""Fixtures for the OpenMetadata tests: the emulator served over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlpublish.config import OpenMetadataSettings


@pytest.fixture
def om_server() -> Iterator[object]:
    from tests.support.openmetadata_server import serve_emulator

    with serve_emulator() as server:
        yield server
    assert server.emulator.unknown_routes == [], "the SDK called routes the emulator does not serve"


@pytest.fixture
def om_settings(om_server) -> OpenMetadataSettings:
    """The tests of the delivery code deliver in the step (``deliver_in_step``), as before the relay: what a
    sync delivers is what they check. The relay's own suite is tests/reliability/test_catalog_relay.py."""
    return OpenMetadataSettings(host_port=om_server.host_port, jwt_token=om_server.token, deliver_in_step=True)
