"""Settings of the CSV connector: which file, which columns mean what, where results go."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import Field, field_validator

from connectors.settings import ConnectorSettings
from model.fields import FIELDS

#: Canonical fields per object type (:mod:`model.fields`); a CSV header that equals one of
#: them, ignoring case and surrounding spaces, is that field unless ``columns`` says otherwise.
CANONICAL_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {t: tuple(f.name for f in specs) for t, specs in FIELDS.items() if t != "owners"}
)


CsvObjectType = Literal["contacts", "leads", "companies", "deals", "tasks"]


class CsvSettings(ConnectorSettings):
    """One spreadsheet export seen as one object type (``connector = "csv"``).

    ``columns`` maps CSV headers to canonical field names (``{"Given": "firstname"}``); headers
    are matched exactly first, then ignoring case, spaces and ``_``. Headers not in ``columns``
    that name a canonical field, by its own name or the one HubSpot, Salesforce, Excel or Google
    exports use (``First Name``, ``Phone Number``, ``Mailing City``: :mod:`connectors.csv.headers`),
    are that field; every other column is carried through to the cleaned file untouched (from
    an absorbed row to its survivor where the survivor has none), never shown to the policies,
    and reported as not used. ``id_column`` ``None`` means the first of ``id``, ``Record ID``,
    ``Contact ID``... (:data:`~connectors.csv.headers.ID_HEADERS`). ``encoding`` ``utf-8`` reads
    UTF-8 with or without a byte-order mark and writes the results the same way; Excel's CSV is
    ``cp1252``. ``delimiter`` ``None`` means sniffed (``,``, ``;``, tab or ``|``).
    ``output_dir`` ``None`` means beside the input. Outputs are ``<stem>.cleaned.csv``,
    ``<stem>.merge-map.csv`` and ``<stem>.tasks.csv``. Without a column of their own, a
    contact's ``lead_open`` is true when its ``lead_status`` is one of ``open_lead_statuses``,
    a deal's ``is_closed``/``is_won`` when its ``stage`` is one of ``closed_stages``/
    ``won_stages`` (any case; the defaults are HubSpot's, whose exports are the usual input).
    Relative paths are relative to the configuration file (:meth:`resolved`).
    """

    path: Path = Field(description="The CSV file; relative to the config file.")
    object_type: CsvObjectType = "contacts"
    id_column: str | None = Field(
        default=None,
        description="Column of unique record ids; by default the first of id, Record ID, "
        "Contact ID (Company ID, Account ID, Deal ID, Opportunity ID... by object type).",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="CSV column -> canonical field; other columns named like a canonical field "
        "or as exports name it (any case, spaces or _) are that field, the rest are carried "
        "through untouched.",
    )
    encoding: str = Field(
        default="utf-8",
        description="The file's encoding: utf-8 (with or without a byte-order mark, kept as "
        "found), or cp1252 for Excel's CSV.",
    )
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="Sniffed when not given."
    )
    output_dir: Path | None = Field(
        default=None,
        description="Where the cleaned file, merge map and tasks go (beside the "
        "input by default); relative to the config file.",
    )
    open_lead_statuses: tuple[str, ...] = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT")
    closed_stages: tuple[str, ...] = ("closedwon", "closedlost")
    won_stages: tuple[str, ...] = ("closedwon",)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("expected a Python codec name such as utf-8 or cp1252") from None
        return value

    @field_validator("columns")
    @classmethod
    def _one_to_one(cls, value: dict[str, str]) -> dict[str, str]:
        if len(set(value.values())) != len(value):
            raise ValueError("two CSV columns map to one canonical field")
        return value

    def pulled_types(self) -> tuple[str, ...]:
        """The one object type the file holds."""
        return (self.object_type,)

    def resolved(self, base_dir: Path) -> CsvSettings:
        """These settings with relative paths made relative to ``base_dir``."""

        def absolute(path: Path) -> Path:
            return path if path.is_absolute() else base_dir / path

        output = None if self.output_dir is None else absolute(self.output_dir)
        return self.model_copy(update={"path": absolute(self.path), "output_dir": output})

    def _output(self, suffix: str) -> Path:
        folder = self.output_dir if self.output_dir is not None else self.path.parent
        return folder / f"{self.path.stem}.{suffix}.csv"

    @property
    def cleaned_path(self) -> Path:
        """The cleaned copy of the input: same columns, fixed values, merged rows removed."""
        return self._output("cleaned")

    @property
    def merge_map_path(self) -> Path:
        """``merged_id,primary_id`` per row removed by a merge."""
        return self._output("merge-map")

    @property
    def tasks_path(self) -> Path:
        """The follow-up tasks as a to-do list."""
        return self._output("tasks")
