"""The suite covers every connector, and every capability a connector lacks has its reason."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import connectors
from connectors.base import Capability, Connector
from tests.connectors.contract.harness import ConnectorHarness
from tests.connectors.contract.harnesses import HARNESSES


def concrete_connectors() -> dict[str, type[Connector]]:
    """Every connector class in the ``connectors`` package, by name."""
    for module in pkgutil.walk_packages(connectors.__path__, "connectors."):
        importlib.import_module(module.name)
    found: dict[str, type[Connector]] = {}
    pending = list(Connector.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("connectors.") and not inspect.isabstract(cls):
            found[cls.name] = cls
    return found


def test_every_connector_has_a_harness_and_declares_its_capabilities() -> None:
    built = concrete_connectors()

    assert sorted(built) == sorted(HARNESSES), "a connector is done when it passes the suite"
    for cls in built.values():
        assert "capabilities" in vars(cls), f"{cls.name} declares its capabilities"


def test_each_capability_a_connector_lacks_has_a_reason(harness: ConnectorHarness) -> None:
    declared = harness.connector_class.capabilities

    assert set(harness.unsupported) == set(Capability) - declared
    assert all(reason.strip() for reason in harness.unsupported.values())


def test_a_connector_that_merges_says_which_types(harness: ConnectorHarness) -> None:
    """Merges are within one object type; which types the CRM merges is declared, so that the
    engine and reports never ask for a merge across types (a lead into a contact)."""
    cls = harness.connector_class

    if Capability.MERGES in cls.capabilities:
        assert harness.object_type in cls.mergeable_types
        assert cls.mergeable_types <= set(cls.object_types)
    else:
        assert cls.mergeable_types == frozenset()
