"""Settings of the CSV connector: which file, which columns mean what, where results go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from model.fields import FIELDS

#: Canonical fields per object type (:mod:`model.fields`); a CSV header that equals one of
#: them, ignoring case and surrounding spaces, is that field unless ``columns`` says otherwise.
CANONICAL_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {t: tuple(f.name for f in specs) for t, specs in FIELDS.items() if t != "owners"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvSettings:
    """One spreadsheet export seen as one object type.

    ``columns`` maps CSV headers to canonical field names (``{"First Name": "firstname"}``);
    headers are matched exactly first, then ignoring case and surrounding spaces. Headers not in
    ``columns`` that name a canonical field are that field; every other column is carried
    through to the cleaned file untouched and never shown to the policies. ``delimiter`` ``None``
    means sniffed (``csv.Sniffer`` over ``,``, ``;``, tab and ``|``; ``,`` when it cannot tell).
    ``output_dir`` ``None`` means beside the input. Outputs are ``<stem>.cleaned.csv``,
    ``<stem>.merge-map.csv`` and ``<stem>.tasks.csv``. Without a column of their own, a
    contact's ``lead_open`` is true when its ``lead_status`` is one of ``open_lead_statuses``,
    a deal's ``is_closed``/``is_won`` when its ``stage`` is one of ``closed_stages``/
    ``won_stages`` (any case; the defaults are HubSpot's, whose exports are the usual input).
    """

    path: Path
    object_type: str = "contacts"
    id_column: str = "id"
    columns: Mapping[str, str] = field(default_factory=dict)
    encoding: str = "utf-8-sig"
    delimiter: str | None = None
    output_dir: Path | None = None
    open_lead_statuses: tuple[str, ...] = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT")
    closed_stages: tuple[str, ...] = ("closedwon", "closedlost")
    won_stages: tuple[str, ...] = ("closedwon",)

    def __post_init__(self) -> None:
        if self.object_type not in CANONICAL_FIELDS:
            raise ValueError(
                f"object_type {self.object_type!r}: expected one of {sorted(CANONICAL_FIELDS)}"
            )
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"delimiter {self.delimiter!r}: expected one character")
        targets = list(self.columns.values())
        if len(set(targets)) != len(targets):
            raise ValueError("columns: two CSV columns map to one canonical field")

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
