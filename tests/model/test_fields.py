"""The published table of canonical fields: one source, shown verbatim in the README."""

from __future__ import annotations

from pathlib import Path

from model.fields import FIELDS, OBJECT_TYPES, field_spec, is_writable, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- canonical fields: generated from model/fields.py (a test checks they agree) -->\n"
END = "<!-- end of canonical fields -->"


def test_the_readme_shows_the_table_of_the_package() -> None:
    text = README.read_text(encoding="utf-8")
    shown = text.split(START, 1)[1].split(END, 1)[0]
    assert shown == markdown_table()


def test_names_are_unique_and_plain_names_kept() -> None:
    assert OBJECT_TYPES == ("contacts", "leads", "companies", "deals", "tasks", "owners")
    for object_type, specs in FIELDS.items():
        names = [s.name for s in specs]
        assert len(names) == len(set(names)), object_type
    kept = {"firstname", "email", "phone", "mobilephone", "website", "jobtitle", "tags"}
    assert kept <= {s.name for s in FIELDS["contacts"]}
    assert {"dealname", "amount", "closedate"} <= {s.name for s in FIELDS["deals"]}


def test_decided_and_system_fields_are_read_only_custom_ones_writable() -> None:
    for name in ("lead_open", "created_at", "updated_at", "merged_ids", "last_activity_at"):
        assert not is_writable("contacts", name)
    assert not is_writable("deals", "is_won")
    assert is_writable("contacts", "owner_id")
    assert is_writable("contacts", "my_custom_field")  # not canonical: the CRM decides
    assert field_spec("tasks", "status") is not None
    assert field_spec("tasks", "hs_task_status") is None
