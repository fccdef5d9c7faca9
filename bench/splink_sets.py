"""Dedupe quality on splink_datasets' labelled people, ours and Splink's, side by side.

    python -m bench.splink_sets --historical FILE.parquet [--fake FILE.csv] [--no-splink]

Two public labelled sets that Splink's own tutorials use (github.com/moj-analytical-services/
splink_datasets, ``data/``; not in this repository, and this machine cannot download them at
run time, so give their paths):

- ``historical_figures_with_errors_50k.parquet``: 50,578 records of 5,156 people from Wikidata,
  3 to 21 records each, with typos, nicknames, titles for names, missing values. A contact gets
  ``firstname``, ``lastname``, ``zip`` (``postcode_fake``), ``city`` (``birth_place``) and
  ``birthdate`` (``dob``).
- ``fake_1000.csv``: 1,000 records of 251 people (Faker names, city, e-mail, date of birth) with
  typos and missing values. A contact gets ``firstname``, ``lastname``, ``city``, ``email`` and
  ``birthdate`` (``dob``).

Both matchers see the same fields (``--no-birthdate``: all but the date of birth, the harder
case of a CRM that holds none). Scoring is pairwise, as in :mod:`bench.febrl`; default settings.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path

from bench.febrl import NOW, Labelled, report
from model.records import Record

#: Contact field -> column, per set.
HISTORICAL: Mapping[str, str] = {
    "firstname": "first_name",
    "lastname": "surname",
    "zip": "postcode_fake",
    "city": "birth_place",
    "birthdate": "dob",
}
FAKE: Mapping[str, str] = {
    "firstname": "first_name",
    "lastname": "surname",
    "city": "city",
    "email": "email",
    "birthdate": "dob",
}


def labelled(
    name: str, rows: Iterable[Mapping[str, object]], fields: Mapping[str, str]
) -> Labelled:
    """Contacts of ``rows`` (with ``unique_id`` and ``cluster`` columns) and their clusters."""
    records: list[Record] = []
    clusters: dict[str, list[str]] = {}
    for n, row in enumerate(rows):
        props: dict[str, str | None] = {}
        for field, column in fields.items():
            value = row.get(column)
            text = "" if value is None or value != value else str(value).strip()  # noqa: PLR0124
            props[field] = text or None
        record_id = str(row["unique_id"])
        created = NOW - timedelta(days=1000, seconds=-n)
        records.append(Record("contacts", record_id, props, created, created_at=created))
        clusters.setdefault(str(row["cluster"]), []).append(record_id)
    return Labelled(name, records, [c for c in clusters.values() if len(c) > 1])


def _fields(fields: Mapping[str, str], birthdate: bool) -> Mapping[str, str]:
    return fields if birthdate else {f: c for f, c in fields.items() if f != "birthdate"}


def historical(path: Path, *, birthdate: bool = True) -> Labelled:
    """``historical_figures_with_errors_50k.parquet`` (read with DuckDB, which Splink brings)."""
    import duckdb  # noqa: PLC0415  (optional: the bench extra)

    frame = duckdb.read_parquet(str(path)).df()
    name = "historical_50k" + ("" if birthdate else " without birthdate")
    return labelled(name, frame.to_dict("records"), _fields(HISTORICAL, birthdate))


def fake(path: Path, *, birthdate: bool = True) -> Labelled:
    """``fake_1000.csv``."""
    with path.open(newline="", encoding="utf-8") as handle:
        name = "fake_1000" + ("" if birthdate else " without birthdate")
        return labelled(name, list(csv.DictReader(handle)), _fields(FAKE, birthdate))


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run each set given and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.splink_sets", description=__doc__)
    parser.add_argument("--historical", type=Path, help="historical_figures_with_errors_50k")
    parser.add_argument("--fake", type=Path, help="fake_1000.csv")
    parser.add_argument("--no-splink", action="store_true", help="run ours only")
    parser.add_argument("--no-birthdate", action="store_true", help="leave the dates of birth out")
    args = parser.parse_args(argv)
    births = not args.no_birthdate
    sets = [fake(args.fake, birthdate=births)] if args.fake else []
    sets += [historical(args.historical, birthdate=births)] if args.historical else []
    if not sets:
        parser.error("give --historical and/or --fake")
    for data in sets:
        print(report(data, with_splink=not args.no_splink), flush=True)


if __name__ == "__main__":
    main()
