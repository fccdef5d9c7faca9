"""The HubSpot connector, over the official SDK ``hubspot-api-client`` 12."""

from __future__ import annotations

from connectors.base import BuildContext, Registration
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.errors import classify
from connectors.hubspot.mapping import TASK_DONE, TASK_STATUSES, field_maps
from connectors.hubspot.pacer import Pacer
from connectors.hubspot.settings import OBJECT_ID, HubSpotSettings
from connectors.hubspot.writer import HubSpotWriter
from model.fields import TASK_COMPLETED, TASK_OPEN


def build(settings: HubSpotSettings, context: BuildContext) -> HubSpotConnector:
    """The connector of a configured ``hubspot`` source, its token resolved."""
    token = settings.resolve_token(context.base_dir, context.key)
    pacer = Pacer(sleep=context.sleep, clock=context.monotonic)
    return HubSpotConnector(settings.with_token(token), sleep=context.sleep, pacer=pacer)


REGISTRATION: Registration[HubSpotSettings] = Registration(
    name="hubspot",
    settings=HubSpotSettings,
    build=build,
    renames={t: fields.renames() for t, fields in field_maps().items()},
    value_renames={
        ("tasks", "status"): {
            status: TASK_COMPLETED if status == TASK_DONE else TASK_OPEN for status in TASK_STATUSES
        }
    },
    retired={OBJECT_ID: "it repeated the record's id, which every record has"},
)

__all__ = ["REGISTRATION", "HubSpotConnector", "HubSpotSettings", "HubSpotWriter", "classify"]
