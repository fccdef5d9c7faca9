"""One name per record, used by every report, the review queue and task texts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from model.changes import CreateTask, Snapshot
from model.fields import person_name, record_kind, record_label
from model.records import Record
from policies.follow_up import FollowUpPolicy, FollowUpSettings
from policies.required import RequiredPolicy, RequiredSettings

NOW = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("object_type", "properties", "label"),
    [
        ("contacts", {"firstname": " Jane ", "lastname": "van  Dijk"}, "Jane van Dijk"),
        ("contacts", {"lastname": "Doe", "email": "j@x.com"}, "Doe"),
        ("contacts", {"firstname": " ", "email": " j@x.com "}, "j@x.com"),
        ("leads", {"firstname": "Ann", "email": "a@x.com"}, "Ann"),
        ("owners", {"firstname": "Sam", "lastname": "Lee", "email": "s@x.com"}, "Sam Lee"),
        ("owners", {"email": "s@x.com"}, "s@x.com"),
        ("companies", {"name": "Acme  GmbH", "domain": "acme.de"}, "Acme GmbH"),
        ("companies", {"name": "", "domain": "acme.de"}, "acme.de"),
        ("deals", {"dealname": "Big deal", "name": "other"}, "Big deal"),
        ("tasks", {"subject": "Call back"}, "Call back"),
        ("tickets", {"subject": "Broken", "email": "x@y.z"}, "Broken"),
        ("contacts", {"phone": "+1 555"}, ""),
        ("companies", {}, ""),
    ],
)
def test_record_label(object_type: str, properties: dict[str, str], label: str) -> None:
    assert record_label(object_type, properties) == label


def test_person_name_and_kind() -> None:
    assert person_name({"firstname": "Jane", "lastname": None}) == "Jane"
    assert person_name({}) == ""
    assert record_kind("companies") == "company"
    assert record_kind("tickets") == "tickets"


def test_tasks_name_a_company_by_its_domain_when_it_has_no_name() -> None:
    company = Record("companies", "5", {"name": " ", "domain": "acme.de"}, NOW)
    rule = {"object_type": "companies", "reason": "x", "subject": "Call {display_name}"}
    follow_up = FollowUpPolicy(FollowUpSettings.model_validate({"rules": [rule]}))
    required = RequiredPolicy(
        RequiredSettings.model_validate({"fields": {"companies": ["industry"]}, "as_tasks": True})
    )
    snapshot = Snapshot("hs", NOW, {"companies": [company]})
    tasks = [c for p in (follow_up, required) for c in p(snapshot) if isinstance(c, CreateTask)]
    assert [t.subject for t in tasks] == ["Call acme.de", "Fill in industry on company acme.de"]
