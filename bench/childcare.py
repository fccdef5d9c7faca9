"""Company dedupe quality on dedupe's public Chicago child care sites, ours and Splink's.

    python -m bench.childcare [--file FILE] [--cache DIR] [--no-splink] [-v]

Organisations without web sites, as a city's agencies listed them: 3,337 early childhood
education sites in Chicago gathered from several agencies' lists (site name, street address,
zip, a seven-digit phone without its area code), each with the true id of its site, hand
labelled by the authors of the ``dedupe`` library (``csv_example/
csv_example_input_with_true_ids.csv`` in github.com/dedupeio/dedupe-examples). It is downloaded
once into ``--cache`` (default ``~/.cache/syncd-bench``); ``--file`` reads a copy instead. The
data is never copied into this repository.

A site is the entity: the same organisation's two campuses, sharing its name and switchboard,
are two (``two_sites``). The labels hold some doubtful pairs (two schools of one district at
different streets labelled one site); they are scored as given. Each row becomes a company
with ``name``, ``address``, ``zip`` and ``phone``; default settings, nothing tuned to the set.
Splink gets the same fields (the zip in the city's place, see :func:`bench.restaurants.splink`).
"""

from __future__ import annotations

import argparse
import csv
import urllib.request
from datetime import timedelta
from pathlib import Path

from bench import peer
from bench.febrl import NOW, Labelled, Outcome, render
from bench.quality import score
from bench.restaurants import ours, show, splink
from model.records import Record

URL = (
    "https://raw.githubusercontent.com/dedupeio/dedupe-examples/master/csv_example/"
    "csv_example_input_with_true_ids.csv"
)
#: Company field -> the column it is read from.
FIELDS = {"name": "Site name", "address": "Address", "zip": "Zip", "phone": "Phone"}


def fetch(cache: Path) -> Path:
    """The labelled file, downloaded into ``cache`` once."""
    target = cache / "childcare" / URL.rpartition("/")[2]
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(URL, timeout=120) as answer:
            target.write_bytes(answer.read())
    return target


def load(path: Path) -> Labelled:
    """The sites as companies (ids as in the file) with their true sites as clusters."""
    records: list[Record] = []
    clusters: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            props = {f: " ".join((row[c] or "").split()) or None for f, c in FIELDS.items()}
            created = NOW - timedelta(days=1000, seconds=-n)
            records.append(Record("companies", row["Id"], props, created, created_at=created))
            clusters.setdefault(row["True Id"], []).append(row["Id"])
    return Labelled("chicago child care", records, [c for c in clusters.values() if len(c) > 1])


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load the set, run the matchers and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.childcare", description=__doc__)
    parser.add_argument("--file", type=Path, help="csv_example_input_with_true_ids.csv")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "syncd-bench")
    parser.add_argument("--no-splink", action="store_true", help="run ours only")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)
    data = load(args.file or fetch(args.cache))
    true = data.true_pairs
    got = peer.measure(lambda: ours(data.records))
    outcomes = [
        Outcome("syncd", score(got.merged, true), score(got.proposed, true), got.seconds,
                got.peak_mb)
    ]  # fmt: skip
    if not args.no_splink:
        theirs = peer.measure(lambda: splink(data.records, place="zip"))
        outcomes.append(
            Outcome("splink", score(theirs.merged, true), score(theirs.proposed, true),
                    theirs.seconds, theirs.peak_mb)
        )  # fmt: skip
    title = f"{data.name}: {len(data.records)} records, {len(true)} true pairs"
    print(peer.render(title, outcomes) if not args.no_splink else render(data, outcomes))
    if args.verbose:
        show(data, got.merged - true, "false merges", ("name", "address", "zip", "phone"))
        show(data, true - got.proposed, "true pairs neither merged nor reviewed",
             ("name", "address", "zip", "phone"))  # fmt: skip


if __name__ == "__main__":
    main()
