"""Health figures of a source from a snapshot and its plan's changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.changes import Archive, Change, CreateTask, Flag, Merge, Snapshot, Update
from model.records import Record
from syncd.quality import KEY_FIELDS, _Tally, _tally, health, record_score

NOW = datetime(2025, 6, 1, tzinfo=UTC)
FULL = dict.fromkeys(KEY_FIELDS["contacts"], "x")


def contact(record_id: str, **props: str | None) -> Record:
    return Record("contacts", record_id, FULL | props, NOW)


def snap(*records: Record) -> Snapshot:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    owners = [Record("owners", "o1", {"email": "o@x.com"}, NOW)]
    return Snapshot("hs", NOW, by_type | {"owners": owners})


def flag(policy: str, record_id: str, field: str | None, object_type: str = "contacts") -> Flag:
    return Flag("hs", object_type, policy, "why", record_id, field, None)


def test_counts_per_type_and_overall() -> None:
    records = [contact(str(i)) for i in range(1, 11)]
    deals = [Record("deals", "100", {"dealname": "d"}, NOW), Record("deals", "101", {}, NOW)]
    changes: list[Change] = [
        Merge("hs", "contacts", "dedupe", "dup", "1", ("2",), 0.97),
        Merge("hs", "contacts", "dedupe", "maybe", "3", ("4", "5"), 0.8, kind="review"),
        flag("normalize", "6", "email"),
        flag("normalize", "6", "phone"),
        flag("normalize", "7", "mobilephone"),
        flag("tags", "7", "tags"),
        Update("hs", "contacts", "normalize", "e164", "8", "phone", "555", "+1555"),
        Update("hs", "contacts", "normalize", "lower", "8", "email", "A@X", "a@x"),
        flag("required", "9", "email"),
        flag("required", "9", "lastname"),
        CreateTask("hs", "deals", "required", "fill", "101", "Fill in", None, date(2025, 6, 3)),
        CreateTask("hs", "deals", "follow_up", "open", "100", "Follow", None, date(2025, 6, 3)),
        flag("retire", "10", None),
        Archive("hs", "deals", "retire", "old", "101"),
    ]
    result = health(snap(*records, *deals), changes)
    assert set(result.by_type) == {"contacts", "deals"}  # owners are not measured
    c = result.by_type["contacts"]
    assert (c.records, c.duplicates, c.duplicate_share) == (10, 5, 0.5)
    assert (c.invalid_emails, c.invalid_phones, c.email_fixes, c.phone_fixes) == (1, 2, 1, 1)
    assert (c.missing_required, c.missing_required_fields, c.stale) == (1, 2, 1)
    d = result.by_type["deals"]
    assert (d.missing_required, d.open_without_next_action, d.stale) == (1, 1, 1)
    overall = result.overall
    assert (overall.records, overall.duplicates, overall.stale) == (12, 5, 2)
    assert overall.duplicate_share == pytest.approx(5 / 12)
    metrics = result.metrics()
    assert set(metrics) == {"contacts", "deals", "all"}
    assert metrics["all"]["missing_required"] == 2.0
    assert all(isinstance(v, float) for m in metrics.values() for v in m.values())


def test_record_scores_follow_the_documented_formula() -> None:
    clean = contact("1")
    sparse = contact("2", jobtitle=None, city=" ", country=None)  # 6 of 9 key fields
    changes: list[Change] = [
        Merge("hs", "contacts", "dedupe", "dup", "3", ("4",), 0.99),
        flag("normalize", "5", "email"),
        flag("retire", "6", None),
        flag("required", "7", "email"),
    ]
    records = [clean, sparse, *(contact(str(i)) for i in (3, 4, 5, 6)), contact("7", email=None)]
    result = health(snap(*records), changes)
    scores = result.scores["contacts"]
    assert scores["1"] == pytest.approx(100.0)
    assert scores["2"] == pytest.approx(100 * (0.4 * 6 / 9 + 0.6))
    assert scores["3"] == scores["4"] == pytest.approx(80.0)  # a duplicate loses uniqueness
    assert scores["5"] == pytest.approx(90.0)  # one invalid value: validity 0.5
    assert scores["6"] == pytest.approx(80.0)  # stale
    assert scores["7"] == pytest.approx(100 * (0.4 * 8 / 9 + 0.6))
    assert result.by_type["contacts"].score == pytest.approx(sum(scores.values()) / 7)
    assert result.overall.score == pytest.approx(result.by_type["contacts"].score)


def test_empty_source_is_healthy() -> None:
    result = health(Snapshot("hs", NOW, {}), [])
    assert result.overall.records == 0
    assert result.overall.score == 100.0
    assert result.overall.duplicate_share == 0.0
    assert result.metrics() == {"all": result.overall.metrics()}


_KEY = KEY_FIELDS["contacts"]


@given(
    st.lists(st.sets(st.sampled_from(_KEY)), min_size=1, max_size=12),
    st.lists(
        st.tuples(
            st.sampled_from(["merge", "normalize", "tags", "required", "retire", "task"]),
            st.integers(0, 11),
            st.sampled_from(["email", "phone", "jobtitle", "fax"]),
        ),
        max_size=12,
    ),
)
def test_every_record_scores_as_its_own_formula_says(
    empty: list[set[str]], drawn: list[tuple[str, int, str]]
) -> None:
    """The scores health gives (most records, named by no change, from a table by key fields
    filled) are record_score's for each record, to the bit."""
    records = [contact(str(n), **dict.fromkeys(gaps)) for n, gaps in enumerate(empty)]
    changes: list[Change] = []
    for what, n, field in drawn:
        record_id = str(n % len(records))
        if what == "merge":
            changes.append(Merge("hs", "contacts", "dedupe", "dup", record_id, ("99",), 0.97))
        elif what == "task":
            due = date(2025, 6, 3)
            changes.append(
                CreateTask("hs", "contacts", "required", "fill", record_id, "s", None, due)
            )
        else:
            changes.append(flag(what, record_id, field))
    unlisted = [Record("products", str(n), {}, NOW) for n in range(2)]  # no key fields
    result = health(snap(*records, *unlisted), changes)
    tally = _tally(changes).get("contacts", _Tally())
    assert result.scores["contacts"] == {r.id: record_score(r, tally) for r in records}
    assert result.scores["products"] == {r.id: record_score(r, _Tally()) for r in unlisted}
