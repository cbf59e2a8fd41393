"""The same scenarios against a real OpenMetadata server (for example the docker-compose stack).

Opt-in: deselected unless the marker expression names openmetadata_live (tests/support/skips.py), and then
OPENMETADATA_HOST_PORT (and OPENMETADATA_JWT_TOKEN, a bot token) must be set:
    OPENMETADATA_HOST_PORT=http://localhost:8585/api OPENMETADATA_JWT_TOKEN=... \\
        .venv/bin/python -m pytest -m openmetadata_live tests/openmetadata/test_live.py
The outage scenario needs a server we can stop: it runs against the emulator only.
"""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from mlpublish.config import OpenMetadataSettings
from mlpublish.errors import CatalogUnavailable
from tests.openmetadata.scenarios import LiveAdmin, fidelity_story, publish, publish_story, weak_spec
from tests.support.canary_secrets import WRONG_OPENMETADATA_JWT

pytestmark = pytest.mark.openmetadata_live


@pytest.fixture
def live_settings() -> OpenMetadataSettings:
    settings = OpenMetadataSettings.from_env()
    if settings is None:  # asked for by -m openmetadata_live: a missing server is a failure, not a skip
        pytest.fail(
            "the openmetadata_live tests need OPENMETADATA_HOST_PORT (and OPENMETADATA_JWT_TOKEN) of a real server"
        )
    return dataclasses.replace(settings, deliver_in_step=True)  # the scenarios check what each step delivered


def test_live_publish_story(workspace, live_settings):
    publish_story(workspace, live_settings, secrets.token_hex(4))


def test_live_wrong_token_is_refused_without_showing_it(workspace, live_settings):
    wrong = WRONG_OPENMETADATA_JWT
    bad = OpenMetadataSettings(host_port=live_settings.host_port, jwt_token=wrong, deliver_in_step=True)
    with pytest.raises(CatalogUnavailable, match="refused the JWT token") as err:
        publish(weak_spec(workspace, secrets.token_hex(4)), bad)
    assert wrong not in str(err.value)


def test_live_dashboard_owners_column_lineage_moved_source_and_typed_properties(workspace, live_settings):
    fidelity_story(workspace, live_settings, secrets.token_hex(4), LiveAdmin(live_settings))
