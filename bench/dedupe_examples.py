"""Company dedupe quality on the labelled sets of dedupe's examples, ours and Splink's.

    python -m bench.dedupe_examples [--childcare FILE] [--patents FILE] [--cache DIR]
                                    [--no-splink] [-v]

Two public labelled sets from github.com/dedupeio/dedupe-examples, hand labelled by the
authors of the ``dedupe`` library, downloaded once into ``--cache`` (default
``~/.cache/syncd-bench``; ``--childcare`` and ``--patents`` read copies instead). The data is
never copied into this repository. Default settings, nothing tuned to the sets.

- ``csv_example/csv_example_input_with_true_ids.csv``: 3,337 early childhood education sites
  in Chicago from several agencies' lists (site name, street address, zip, a seven-digit phone
  without its area code), each with the true id of its site. A site is the entity: one
  organisation's two campuses, sharing its name and switchboard, are two (``two_sites``). The
  labels hold some doubtful pairs (two schools of one district at different streets labelled
  one site); they are scored as given. Each row becomes a company with ``name``, ``address``,
  ``zip`` and ``phone``. Splink gets the same fields (the zip in the city's place, see
  :func:`bench.restaurants.splink`).
- ``patent_example/patstat_reference.csv``: 2,379 patent holders' names as the filings wrote
  them (``KONINKLIJKE PHILIPS ELECTRONICS N.V.``, ``PHILIPS CORP.``), with the id of the
  holder (``leuven_id``): companies that hold a name and nothing else, legal forms in every
  spelling. Most true pairs are inside a few holders of hundreds of filings each. Splink is
  not run on it (one field).
"""

from __future__ import annotations

import argparse
import csv
import urllib.request
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bench import peer
from bench.febrl import NOW, Labelled, Outcome, render
from bench.quality import score
from bench.restaurants import ours, show, splink
from model.records import Record

BASE = "https://raw.githubusercontent.com/dedupeio/dedupe-examples/master/"
CHILDCARE = BASE + "csv_example/csv_example_input_with_true_ids.csv"
PATENTS = BASE + "patent_example/patstat_reference.csv"
#: Company field -> the column it is read from.
FIELDS = {"name": "Site name", "address": "Address", "zip": "Zip", "phone": "Phone"}


def fetch(cache: Path, url: str) -> Path:
    """The labelled file at ``url``, downloaded into ``cache`` once."""
    target = cache / "dedupe-examples" / url.rpartition("/")[2]
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=120) as answer:
            target.write_bytes(answer.read())
    return target


def patents(path: Path) -> Labelled:
    """The patent holders as companies holding a name only, with their true holders."""
    records: list[Record] = []
    clusters: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            name = row["person_name"].strip().lstrip("*").strip() or None
            created = NOW - timedelta(days=1000, seconds=-n)
            record_id = row["person_id"]
            records.append(Record("companies", record_id, {"name": name}, created,
                                  created_at=created))  # fmt: skip
            clusters.setdefault(row["leuven_id"], []).append(record_id)
    return Labelled("patent holders", records, [c for c in clusters.values() if len(c) > 1])


def childcare(path: Path) -> Labelled:
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


def _run(data: Labelled, *, with_splink: bool, verbose: bool, fields: Sequence[str]) -> None:
    true = data.true_pairs
    got = peer.measure(lambda: ours(data.records))
    outcomes = [
        Outcome("syncd", score(got.merged, true), score(got.proposed, true), got.seconds,
                got.peak_mb)
    ]  # fmt: skip
    if with_splink:
        theirs = peer.measure(lambda: splink(data.records, place="zip"))
        outcomes.append(
            Outcome("splink", score(theirs.merged, true), score(theirs.proposed, true),
                    theirs.seconds, theirs.peak_mb)
        )  # fmt: skip
    title = f"{data.name}: {len(data.records)} records, {len(true)} true pairs"
    print(peer.render(title, outcomes) if with_splink else render(data, outcomes), flush=True)
    if verbose:
        show(data, got.merged - true, "false merges", fields)
        show(data, true - got.proposed, "true pairs neither merged nor reviewed", fields)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load the sets, run the matchers and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.dedupe_examples", description=__doc__)
    parser.add_argument("--childcare", type=Path, help="csv_example_input_with_true_ids.csv")
    parser.add_argument("--patents", type=Path, help="patstat_reference.csv")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "syncd-bench")
    parser.add_argument("--no-splink", action="store_true", help="run ours only")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)
    cared = childcare(args.childcare or fetch(args.cache, CHILDCARE))
    _run(cared, with_splink=not args.no_splink, verbose=args.verbose,
         fields=("name", "address", "zip", "phone"))  # fmt: skip
    held = patents(args.patents or fetch(args.cache, PATENTS))
    _run(held, with_splink=False, verbose=args.verbose, fields=("name",))


if __name__ == "__main__":
    main()
