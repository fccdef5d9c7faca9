"""The tags policy: picklist values to canonical options, synonyms, sets, flags, label usage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from bench.dataset import canonical_records
from connectors.hubspot.properties import property_def
from model.changes import Change, Flag, Snapshot, Update
from model.records import PropertyDef, Record
from policies.tags import LabelUsage, TagsPolicy, TagsSettings, label_usage

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)

TAGS = PropertyDef(
    name="tags",
    label="Tags",
    type="enumeration",
    options=(
        ("follow_up_needed", "Follow-up needed"),
        ("vip", "VIP"),
        ("newsletter", "Newsletter"),
        ("follow up", "follow up"),  # a visible legacy option
        ("v.i.p.", "v.i.p."),
        ("Partner", "Partner (legacy)"),
        ("partner", "Partner"),
    ),
    multi=True,
    hidden_options=frozenset({"v.i.p.", "Partner"}),
)
STATUS = PropertyDef(
    name="lead_status",
    label="Lead Status",
    type="enumeration",
    options=(("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress")),
)
OWNER = PropertyDef(name="owner_id", label="Owner", type="enumeration")
STATE = PropertyDef(name="state", label="State/Region", type="string")
SCHEMA = {"contacts": {p.name: p for p in (TAGS, STATUS, OWNER, STATE)}}
SYNONYMS = {
    "tags": {"follow_up_needed": ["follow up", "Follow-up needed"]},
    "state": {"NY": ["N.Y.", "New York"]},
}


def contact(record_id: str, **props: str | None) -> Record:
    return Record("contacts", record_id, props, NOW)


def run(*records: Record, **settings: object) -> list[Change]:
    snapshot = Snapshot("test", NOW, {"contacts": list(records)}, schema=SCHEMA)
    return TagsPolicy(TagsSettings.model_validate(settings))(snapshot)


def updates(changes: list[Change]) -> dict[tuple[str, str], str | None]:
    return {(c.record_id, c.field): c.new for c in changes if isinstance(c, Update)}


def flags(changes: list[Change]) -> dict[tuple[str, str | None], str]:
    return {(c.record_id, c.field): c.reason for c in changes if isinstance(c, Flag)}


def test_synonyms_map_case_and_punctuation_insensitively_in_display_order() -> None:
    changes = run(
        contact("1", tags="vip;FOLLOW-UP"),
        contact("2", tags="Follow up;newsletter;follow_up_needed"),
        contact("3", state="n.y."),
        contact("4", state="Bavaria"),
        synonyms=SYNONYMS,
    )
    assert updates(changes) == {
        ("1", "tags"): "follow_up_needed;vip",
        ("2", "tags"): "follow_up_needed;newsletter",
        ("3", "state"): "NY",
    }
    assert not flags(changes)
    (first, *_) = changes
    assert isinstance(first, Update)
    assert first.policy == "tags"
    assert first.old == "vip;FOLLOW-UP"
    assert "'FOLLOW-UP' is a synonym of 'follow_up_needed'" in first.reason


def test_a_visible_option_named_as_a_variant_is_no_longer_canonical() -> None:
    assert run(contact("1", tags="follow up")) == []  # a visible option, no synonyms given
    changed = updates(run(contact("1", tags="follow up"), synonyms=SYNONYMS))
    assert changed == {("1", "tags"): "follow_up_needed"}


def test_hidden_and_unknown_values_map_by_label_or_text_else_flag() -> None:
    changes = run(
        contact("1", tags="Partner;vip"),  # hidden option, same text as 'partner'
        contact("2", tags="V I P"),  # not an option at all: normalized text of 'vip'
        contact("3", tags="Newsletter"),  # the label of 'newsletter'
        contact("4", tags="vip;gold;v.i.p."),  # 'gold' maps to nothing
        contact("5", lead_status="in progress"),
        contact("6", lead_status="Closed"),
    )
    assert updates(changes) == {
        ("1", "tags"): "vip;partner",
        ("2", "tags"): "vip",
        ("3", "tags"): "newsletter",
        ("4", "tags"): "vip;gold",
        ("5", "lead_status"): "IN_PROGRESS",
    }
    reasons = {(c.record_id, c.field): c.reason for c in changes if isinstance(c, Update)}
    assert (
        "hidden (legacy) option 'Partner' matches the label of option 'partner'"
        in (reasons[("1", "tags")])
    )
    assert "matches the label of option 'IN_PROGRESS'" in reasons[("5", "lead_status")]
    assert flags(changes) == {
        ("4", "tags"): "tags: value 'gold' is not an allowed option",
        ("6", "lead_status"): "lead_status: value 'Closed' is not an allowed option",
    }
    flag = next(c for c in changes if isinstance(c, Flag) and c.record_id == "6")
    assert flag.value == "Closed"
    assert flags(run(contact("6", lead_status="Closed"), flag_unmapped=False)) == {}


def test_multi_select_is_an_order_free_set() -> None:
    assert run(contact("1", tags="newsletter;vip;follow_up_needed")) == []  # order only
    assert updates(run(contact("2", tags="vip;newsletter;vip"))) == {
        ("2", "tags"): "vip;newsletter"
    }
    (change,) = run(contact("3", tags=" vip ;newsletter;"))
    assert isinstance(change, Update)
    assert change.new == "vip;newsletter"


def test_ambiguous_matches_and_non_option_synonym_targets_are_flagged() -> None:
    schema = {
        "contacts": {
            "tags": PropertyDef(
                "tags", "Tags", "enumeration", (("vip", "VIP"), ("Vip", "Vip")), multi=True
            )
        }
    }
    snapshot = Snapshot("t", NOW, {"contacts": [contact("1", tags="V.I.P.")]}, schema=schema)
    (flag,) = TagsPolicy(TagsSettings())(snapshot)
    assert isinstance(flag, Flag)
    assert "could be any of 'vip', 'Vip'" in flag.reason
    bad = TagsSettings(synonyms={"tags": {"gold": ["V.I.P."]}})
    (flag,) = TagsPolicy(bad)(snapshot)
    assert isinstance(flag, Flag)
    assert "'V.I.P.' is a synonym of 'gold', not an option" in flag.reason


def test_fields_setting_limits_the_check_and_owner_ids_are_left_alone() -> None:
    record = contact("1", tags="gold", lead_status="Closed", owner_id="77")
    assert set(flags(run(record))) == {("1", "tags"), ("1", "lead_status")}
    assert set(flags(run(record, fields=["lead_status"]))) == {("1", "lead_status")}
    assert run(record, object_types=["companies"]) == []


def test_settings_refuse_ambiguous_synonyms_and_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="means both"):
        TagsSettings(synonyms={"tags": {"vip": ["V.I.P."], "gold": ["vip!"]}})
    with pytest.raises(ValidationError):
        TagsSettings.model_validate({"colour": "blue"})
    with pytest.raises(ValidationError):
        TagsSettings(rare_label_max=-1)


def test_label_usage_reports_unused_and_rare_options() -> None:
    records = [contact(str(i), tags="vip;newsletter") for i in range(1, 6)]
    records += [contact("9", tags="Partner;follow up", lead_status="OPEN")]
    snapshot = Snapshot("t", NOW, {"contacts": records}, schema=SCHEMA)
    usage = label_usage(snapshot, TagsSettings(rare_label_max=1))
    assert [(u.field, u.value, u.records) for u in usage] == [
        ("tags", "follow_up_needed", 0),
        ("tags", "follow up", 1),
        ("tags", "v.i.p.", 0),
        ("tags", "Partner", 1),
        ("tags", "partner", 0),
        ("lead_status", "NEW", 0),
        ("lead_status", "OPEN", 1),
        ("lead_status", "IN_PROGRESS", 0),
    ]
    assert usage[3] == LabelUsage(
        "contacts", "tags", "Partner", "Partner (legacy)", True, 1, ("9",)
    )
    assert all(u.records == 0 for u in label_usage(snapshot, TagsSettings(rare_label_max=0)))


@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from([v for v, _ in TAGS.options] + [" vip ", "gold", ""])),
            st.sampled_from([None, "NEW", "OPEN", "open", " "]),
        ),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=4),
)
# one option in values written two ways, their records interleaved: still listed in id order
@example([(["vip", "gold"], None), (["vip"], None), (["vip", "gold"], None)], 3)
def test_label_usage_counts_each_record_once_per_option_it_holds(
    values: list[tuple[list[str], str | None]], rare: int
) -> None:
    records = [
        contact(str(n), tags=";".join(tags) if tags else None, lead_status=status)
        for n, (tags, status) in enumerate(values, 1)
    ]
    snapshot = Snapshot("t", NOW, {"contacts": records}, schema=SCHEMA)
    usage = label_usage(snapshot, TagsSettings(rare_label_max=rare))
    expected = []
    for field in (TAGS, STATUS):  # the reference: every record asked about every option
        for value, _ in field.options:
            ids = tuple(
                r.id
                for r in snapshot.in_id_order("contacts")
                if value
                in {
                    item.strip()
                    for item in (r.properties.get(field.name) or "").split(
                        ";" if field.multi else "\0"
                    )
                }
            )
            if len(ids) <= rare:
                expected.append((field.name, value, ids))
    assert [(u.field, u.value, u.record_ids) for u in usage] == expected
    assert all(u.records == len(u.record_ids) for u in usage)


# --- against the sandbox generator's ground truth --------------------------------------------

generator = pytest.importorskip("sandbox.generator")
schema_module = pytest.importorskip("sandbox.generator.schema")


def test_generated_tags_match_the_ground_truth() -> None:
    dataset = generator.generate(2000, seed=11, now=NOW)
    records = canonical_records(dataset)
    schema = {
        t: {str(p["name"]): d for p in props if (d := property_def(p, str(p["name"])))}
        for t, props in schema_module.PROPERTIES.items()
    }
    truth = dataset.truth.to_json()
    snapshot = Snapshot("generated", NOW, records, schema=schema)
    changes = TagsPolicy(TagsSettings(synonyms=truth["tag_synonyms"]))(snapshot)

    def key(record_id: str, field: str, new: str | None) -> tuple[str, str, frozenset[str]]:
        return record_id, field, frozenset((new or "").split(";"))

    found = {key(c.record_id, c.field, c.new) for c in changes if isinstance(c, Update)}
    expected = {
        key(str(f["record_id"]), str(f["field"]), f["new"])
        for f in truth["due_fixes"]
        if f["policy"] == "tags"
    }
    assert len(expected) > 100
    hits = len(found & expected)
    precision, recall = hits / len(found), hits / len(expected)
    print(f"tags vs truth: {len(found)} updates, {len(expected)} due, P={precision} R={recall}")
    assert precision == 1.0
    assert recall == 1.0
    assert not [c for c in changes if isinstance(c, Flag)]
