"""The CLI and the connector registry start without the vendors' SDKs: a command that touches
no HubSpot or Salesforce source does not pay for their import (about a fifth of a second)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SDKS = ("hubspot", "simple_salesforce")


def _loaded_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("statement", ["import syncd.cli", "import connectors.registry"])
def test_no_vendor_sdk_is_imported_at_start(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert "connectors.registry" in loaded
    assert not {m for m in loaded if m.split(".")[0] in SDKS}


def test_naming_a_connector_class_imports_its_sdk() -> None:
    loaded = _loaded_after("from connectors.hubspot import HubSpotConnector, classify")
    assert "hubspot" in loaded
    assert "simple_salesforce" not in loaded
    loaded = _loaded_after("from connectors.salesforce import SalesforceConnector")
    assert "simple_salesforce" in loaded


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    import connectors.hubspot

    with pytest.raises(AttributeError, match="HubSpotConector"):
        _ = connectors.hubspot.HubSpotConector
