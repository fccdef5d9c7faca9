"""A configuration that still speaks the previous vocabulary is refused with the new names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from model.errors import ConfigError
from syncd.cli import app
from syncd.config import parse_config

HUBSPOT = {"connector": "hubspot", "token": "${HUBSPOT_TOKEN}"}


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, tmp_path)
    return str(caught.value).splitlines()


def test_every_key_that_names_a_field_refuses_a_renamed_one(tmp_path: Path) -> None:
    rule = {
        "object_type": "contacts",
        "when": [
            {"field": "hs_lead_status", "in": ["NEW"]},
            {"field": "notes_last_updated", "older_than_days": 3},
            {"field": "lead_status", "equals": "NEW"},
        ],
        "reason": "quiet since {notes_last_updated}",
        "subject": "Call {firstname} ({hs_lead_status})",
    }
    data = {
        "sources": {
            "hubspot": {**HUBSPOT, "apply": {"protected_fields": ["hubspot_owner_id", "email"]}},
            "sheet": {
                "connector": "csv",
                "path": "x.csv",
                "columns": {"Lead Status": "hs_lead_status", "Mail": "email"},
            },
        },
        "policies": {
            "normalize": {"fields": {"contacts": {"hs_additional_emails": ["email_list"]}}},
            "dedupe": {
                "survivorship_exclude": ["hs_object_id", "createdate", "merged_ids"],
                "field_survivorship": {"lifecyclestage": "most_recent"},
            },
            "follow_up": {"rules": [rule]},
            "tags": {"fields": ["lifecyclestage", "tags"], "synonyms": {"hs_lead_status": {}}},
            "required": {
                "fields": {
                    "deals": {"always": ["dealname"], "by": "dealstage", "stages": {"x": []}},
                    "tasks": {"by": "status", "stages": {"NOT_STARTED": ["subject"]}},
                    "companies": ["name", "hubspot_owner_id"],
                }
            },
            "retire": {"activity_fields": ["notes_last_updated", "lastmodifieddate"]},
        },
    }
    found = problems(tmp_path, data)
    expected = [
        "sources.hubspot.apply.protected_fields[0]: 'hubspot_owner_id' was renamed; use 'owner_id'",
        "sources.sheet.columns.Lead Status: 'hs_lead_status' was renamed; use 'lead_status'",
        "policies.normalize.fields.contacts.hs_additional_emails: 'hs_additional_emails' was "
        "renamed; use 'additional_emails'",
        "policies.dedupe.survivorship_exclude[1]: 'createdate' was renamed; use 'created_at'",
        "policies.dedupe.field_survivorship.lifecyclestage: 'lifecyclestage' was renamed; use "
        "'lifecycle_stage'",
        "policies.follow_up.rules[0].when[0].field: 'hs_lead_status' was renamed; use "
        "'lead_status'",
        "policies.follow_up.rules[0].when[1].field: 'notes_last_updated' was renamed; use "
        "'last_activity_at'",
        "policies.follow_up.rules[0].reason: 'notes_last_updated' was renamed; use "
        "'last_activity_at'",
        "policies.follow_up.rules[0].subject: 'hs_lead_status' was renamed; use 'lead_status'",
        "policies.tags.fields[0]: 'lifecyclestage' was renamed; use 'lifecycle_stage'",
        "policies.tags.synonyms.hs_lead_status: 'hs_lead_status' was renamed; use 'lead_status'",
        "policies.required.fields.deals.by: 'dealstage' was renamed; use 'stage'",
        "policies.required.fields.tasks.stages.NOT_STARTED: value 'NOT_STARTED' of status was "
        "renamed; use 'open'",
        "policies.required.fields.companies[1]: 'hubspot_owner_id' was renamed; use 'owner_id'",
        "policies.retire.activity_fields[0]: 'notes_last_updated' was renamed; use "
        "'last_activity_at'",
        "policies.retire.activity_fields[1]: 'lastmodifieddate' was renamed; use 'updated_at'",
    ]
    for line in expected:
        assert line in found, line
    assert any(
        line.startswith("policies.dedupe.survivorship_exclude[0]: 'hs_object_id' is no longer")
        for line in found
    )
    assert len(found) == len(expected) + 1  # canonical names (email, tags, merged_ids...) pass


def test_keys_that_carried_vendor_values_or_that_rules_replaced_are_refused(
    tmp_path: Path,
) -> None:
    data = {
        "sources": {"hubspot": {**HUBSPOT, "policies": {"retire": {"closed_deal_stages": []}}}},
        "policies": {
            "follow_up": {
                "open_lead_statuses": ["NEW"],
                "closed_deal_stages": ["closedwon"],
                "completed_task_statuses": ["COMPLETED"],
                "contact_subject": "Hi {firstname}",
            },
            "retire": {"open_lead_statuses": ["NEW"]},
        },
    }
    found = problems(tmp_path, data)
    assert (
        "policies.follow_up.closed_deal_stages: removed; a deal is closed when its CRM says so "
        "(canonical field is_closed); use a rule on `stage` to pick stages"
    ) in found
    assert (
        "policies.follow_up.open_lead_statuses: removed; whether a contact is an open lead is its "
        "CRM's to say (canonical field lead_open): set open_lead_statuses on the source "
        "(hubspot, csv)"
    ) in found
    assert any(
        line.startswith("policies.follow_up.completed_task_statuses: removed; a task is open")
        for line in found
    )
    assert any(
        line.startswith("policies.follow_up.contact_subject: removed; write [[policies.follow_up")
        for line in found
    )
    assert any(line.startswith("policies.retire.open_lead_statuses: removed") for line in found)
    assert any(
        line.startswith("sources.hubspot.policies.retire.closed_deal_stages: removed")
        for line in found
    )
    assert len(found) == 6  # each once: not also an "unknown key"


def test_values_and_names_that_did_not_change_pass(tmp_path: Path) -> None:
    rule = {
        "object_type": "deals",
        "when": [{"field": "stage", "in": ["closedwon"]}, {"field": "is_closed", "equals": "true"}],
        "reason": "won {stage}",
        "subject": "Thank {display_name} for {dealname}",
    }
    required = {"tasks": {"by": "status", "stages": {"COMPLETED": ["subject"]}}}
    config = parse_config(
        {
            "sources": {"hubspot": HUBSPOT},
            "policies": {
                "follow_up": {"rules": [rule]},
                "required": {"fields": required},  # COMPLETED is 'completed' in any case
                "tags": {"fields": ["name", "industry", "lead_status"]},
            },
        },
        tmp_path,
    )
    assert config.policies.follow_up.rules is not None


def test_check_config_names_the_key_and_the_new_name(tmp_path: Path) -> None:
    path = tmp_path / "syncd.toml"
    path.write_text(
        '[sources.hubspot]\nconnector = "hubspot"\ntoken = "${HUBSPOT_TOKEN}"\n'
        'lookback_seconds = "soon"\n'
        "[[policies.follow_up.rules]]\n"
        'object_type = "contacts"\nreason = "r"\nsubject = "s"\n'
        'when = [{ field = "hs_lead_status", equals = "NEW" }]\n'
    )
    result = CliRunner().invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    assert (
        "policies.follow_up.rules[0].when[0].field: 'hs_lead_status' was renamed; "
        "use 'lead_status'" in result.output
    )
    assert "sources.hubspot.lookback_seconds: found 'soon'" in result.output  # all at once
