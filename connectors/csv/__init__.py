"""The CSV connector: a spreadsheet export read as CRM records, cleaned into new files."""

from __future__ import annotations

from connectors.csv.connector import CsvConnector, CsvTask
from connectors.csv.settings import CANONICAL_FIELDS, CsvSettings

__all__ = ["CANONICAL_FIELDS", "CsvConnector", "CsvSettings", "CsvTask"]
