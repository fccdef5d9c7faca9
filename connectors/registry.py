"""The connectors syncd knows: name → registration (settings model, builder, renames).

Adding a connector is its package (which defines one :class:`~connectors.base.Registration`)
and one line in :data:`BUILT_IN`; nothing in ``syncd/`` changes. :func:`register` adds one at
run time (tests register fakes).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from connectors.base import Registration
from connectors.csv import REGISTRATION as CSV
from connectors.hubspot import REGISTRATION as HUBSPOT
from connectors.salesforce import REGISTRATION as SALESFORCE

BUILT_IN: tuple[Registration[Any], ...] = (HUBSPOT, CSV, SALESFORCE)

_registered: dict[str, Registration[Any]] = {r.name: r for r in BUILT_IN}


def register(registration: Registration[Any]) -> None:
    """Make a connector known by its name (replacing one of the same name)."""
    _registered[registration.name] = registration


def unregister(name: str) -> None:
    """Forget a connector registered at run time."""
    _registered.pop(name, None)


def registered() -> Mapping[str, Registration[Any]]:
    """Every known connector by name, in registration order."""
    return MappingProxyType(dict(_registered))


def registration(name: str) -> Registration[Any] | None:
    """The connector called ``name``, or ``None``."""
    return _registered.get(name)
