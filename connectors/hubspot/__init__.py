"""The HubSpot connector, over the official SDK ``hubspot-api-client`` 12.

The registration (settings, names) imports no SDK: the connector, its writer and its error
classes are imported when a source is built or they are first named here (PEP 562), so a
command that touches no HubSpot source does not pay for the SDK's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import BuildContext, Registration, lazy_exports
from connectors.hubspot.mapping import TASK_DONE, TASK_STATUSES, field_maps
from connectors.hubspot.pacer import Pacer
from connectors.hubspot.settings import OBJECT_ID, HubSpotSettings
from model.fields import TASK_COMPLETED, TASK_OPEN

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotConnector
    from connectors.hubspot.errors import classify
    from connectors.hubspot.writer import HubSpotWriter

__getattr__ = lazy_exports(
    __name__,
    {
        "HubSpotConnector": "connectors.hubspot.connector",
        "HubSpotWriter": "connectors.hubspot.writer",
        "classify": "connectors.hubspot.errors",
    },
)


def build(settings: HubSpotSettings, context: BuildContext) -> HubSpotConnector:
    """The connector of a configured ``hubspot`` source, its token resolved."""
    from connectors.hubspot.connector import HubSpotConnector  # noqa: PLC0415  (the SDK, here)

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
