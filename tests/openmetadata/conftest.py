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
    return OpenMetadataSettings(host_port=om_server.host_port, jwt_token=om_server.token)
