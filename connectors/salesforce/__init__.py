"""The Salesforce connector, over ``simple-salesforce`` 1.12.

The registration (settings, names) imports no SDK: the connector and its error classes are
imported when a source is built or they are first named here (PEP 562), so a command that
touches no Salesforce source does not pay for the SDK's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import BuildContext, Registration, lazy_exports
from connectors.salesforce.mapping import TASK_STATUS_DONE, TASK_STATUSES, VENDOR_FIELDS
from connectors.salesforce.settings import SalesforceSettings
from model.fields import TASK_COMPLETED, TASK_OPEN

if TYPE_CHECKING:
    from connectors.salesforce.connector import SalesforceConnector
    from connectors.salesforce.errors import AllowanceSpentError, classify

__getattr__ = lazy_exports(
    __name__,
    {
        "SalesforceConnector": "connectors.salesforce.connector",
        "AllowanceSpentError": "connectors.salesforce.errors",
        "classify": "connectors.salesforce.errors",
    },
)


def build(settings: SalesforceSettings, context: BuildContext) -> SalesforceConnector:
    """The connector of a configured ``salesforce`` source, its credentials resolved (nothing
    is sent until the first call: the login happens then)."""
    from connectors.salesforce.connector import SalesforceConnector  # noqa: PLC0415

    credentials = settings.secrets(context.base_dir, context.key)
    return SalesforceConnector(
        settings,
        credentials,
        ca_file=settings.ca_path(context.base_dir),
        sleep=context.sleep,
    )


def _renames() -> dict[str, dict[str, str]]:
    """Salesforce field names the connector maps to other canonical names, per object type
    (a configuration naming ``MailingCity`` is told to write ``city``)."""
    return {t: {v: c for v, c in fields.items() if v != c} for t, fields in VENDOR_FIELDS.items()}


REGISTRATION: Registration[SalesforceSettings] = Registration(
    name="salesforce",
    settings=SalesforceSettings,
    build=build,
    renames=_renames(),
    value_renames={
        ("tasks", "status"): {
            status: TASK_COMPLETED if status == TASK_STATUS_DONE else TASK_OPEN
            for status in TASK_STATUSES
        }
    },
)

__all__ = [
    "REGISTRATION",
    "AllowanceSpentError",
    "SalesforceConnector",
    "SalesforceSettings",
    "classify",
]
