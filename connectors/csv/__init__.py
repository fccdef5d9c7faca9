"""The CSV connector: a spreadsheet export read as CRM records, cleaned into new files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import BuildContext, FieldKey, Registration
from connectors.csv.connector import CsvConnector, CsvTask
from connectors.csv.settings import CANONICAL_FIELDS, CsvSettings


def build(settings: CsvSettings, context: BuildContext) -> CsvConnector:
    """The connector of a configured ``csv`` source, paths relative to the config file."""
    return CsvConnector(settings.resolved(context.base_dir))


def _field_keys(raw: Mapping[str, Any]) -> Iterable[FieldKey]:
    """``columns`` names canonical fields (of the file's object type)."""
    columns = raw.get("columns")
    object_type = raw.get("object_type", "contacts")
    if isinstance(columns, Mapping):
        for column, name in columns.items():
            if isinstance(name, str):
                yield ("columns", str(column)), str(object_type), name


REGISTRATION: Registration[CsvSettings] = Registration(
    name="csv", settings=CsvSettings, build=build, field_keys=_field_keys
)

__all__ = ["CANONICAL_FIELDS", "REGISTRATION", "CsvConnector", "CsvSettings", "CsvTask"]
