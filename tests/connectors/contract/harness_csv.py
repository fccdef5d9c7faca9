"""The CSV connector's world: a spreadsheet export in a temporary folder.

The file is the source as it was exported; what a person sees after a run is the cleaned copy
the connector writes beside it when closed. A CSV source has no API and no other users, so most
of the people and service the harness protocol can play do not exist here (see
``unsupported``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from connectors.base import Capability, Connector
from connectors.csv import CsvConnector, CsvSettings

EXPORTED_AT = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
"""When the export was made (the file's modification time)."""


class CsvHarness:
    """:class:`~tests.connectors.contract.harness.ConnectorHarness` for a CSV export."""

    connector_class: type[Connector] = CsvConnector
    object_type = "contacts"
    unsupported: Mapping[Capability, str] = {
        Capability.INCREMENTAL: "every run reads the whole file (rows have no modification time)",
        Capability.DELETIONS: "a row deleted from the file is simply absent from the next pull",
        Capability.MERGED_RECORDS: "a file keeps no history of rows merged by hand",
        Capability.LIVE: (
            "a run reads the file once and writes its results to new files when it ends: nobody "
            "edits the source meanwhile, and nothing it wrote is read back by the next run"
        ),
        Capability.REFUSED_VALUES: "a cell takes any text",
        Capability.RATE_LIMITS: "a local file has no rate limit",
        Capability.AUTH: "a local file has no credentials",
        Capability.FIELD_HISTORY: "a file keeps no history of who typed a cell",
    }
    absent_id = "no-such-row"
    refused_value = ("", "")  # never used: a cell takes any text
    deletions_every = timedelta(0)
    cleared_field = "lastname"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "export.csv"
        self.sleeps: list[float] = []
        self._now = EXPORTED_AT + timedelta(hours=1)
        self._rows: list[dict[str, str]] = []
        self._connectors: list[CsvConnector] = []
        self._write({})

    @property
    def settings(self) -> CsvSettings:
        return CsvSettings(path=self.path, object_type=self.object_type)

    @property
    def connector(self) -> Connector:
        if not self._connectors:
            self._connectors.append(CsvConnector(self.settings))
        return self._connectors[0]

    def new_connector(self) -> Connector:
        self.connector.close()  # the run before ends (and writes its results) first
        built = CsvConnector(self.settings)
        self._connectors.append(built)
        return built

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def seed(self, records: Sequence[Mapping[str, str]]) -> list[str]:
        start = len(self._rows)
        made = [f"r{start + i + 1}" for i in range(len(records))]
        self._write(dict(zip(made, records, strict=True)))
        return made

    def _write(self, new: Mapping[str, Mapping[str, str]]) -> None:
        self._rows.extend({"id": record_id, **fields} for record_id, fields in new.items())
        header = ["id", *sorted({k for row in self._rows for k in row} - {"id"})]
        with self.path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, header, restval="")
            writer.writeheader()
            writer.writerows(self._rows)
        os.utime(self.path, (EXPORTED_AT.timestamp(), EXPORTED_AT.timestamp()))

    def current(self, record_id: str) -> Mapping[str, str | None] | None:
        for connector in self._connectors:
            connector.close()  # a person sees what a run wrote once it ended
        cleaned = self.settings.cleaned_path
        source = cleaned if cleaned.exists() else self.path
        with source.open(encoding="utf-8-sig", newline="") as rows:
            for row in csv.DictReader(rows):
                if row["id"] == record_id:
                    return {k: v or None for k, v in row.items() if k != "id"}
        return None

    def edit(self, record_id: str, fields: Mapping[str, str]) -> NoReturn:
        _never("edit")

    def delete(self, record_id: str) -> NoReturn:
        _never("delete")

    def merge(self, primary_id: str, merged_id: str) -> NoReturn:
        _never("merge")

    def rate_limit_next(self, retry_after_s: int) -> NoReturn:
        _never("rate_limit_next")

    def revoke_credentials(self) -> NoReturn:
        _never("revoke_credentials")

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()


def _never(what: str) -> NoReturn:
    raise AssertionError(f"a CSV source cannot {what}: the test should have been skipped")
