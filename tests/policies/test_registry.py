"""Building the configured policies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policies.dedupe import DedupePolicy
from policies.follow_up import FollowUpPolicy
from policies.normalize import NormalizePolicy
from policies.registry import PoliciesSettings, build_policies
from policies.required import RequiredPolicy
from policies.retire import RetirePolicy
from policies.tags import TagsPolicy


def test_defaults_build_every_policy_in_order() -> None:
    policies = build_policies(PoliciesSettings())
    assert [type(p) for p in policies] == [
        NormalizePolicy,
        TagsPolicy,
        DedupePolicy,
        FollowUpPolicy,
        RequiredPolicy,
        RetirePolicy,
    ]
    assert [p.name for p in policies] == [
        "normalize",
        "tags",
        "dedupe",
        "follow_up",
        "required",
        "retire",
    ]


def test_disabled_policies_are_left_out() -> None:
    settings = PoliciesSettings.model_validate(
        {
            "normalize": {"enabled": False},
            "follow_up": {"enabled": False},
            "tags": {"enabled": False},
            "required": {"enabled": False},
            "retire": {"enabled": False},
        }
    )
    assert [p.name for p in build_policies(settings)] == ["dedupe"]


def test_default_region_overrides_the_phone_region() -> None:
    settings = PoliciesSettings.model_validate({"normalize": {"default_region": "US"}})
    built = {p.name: p for p in build_policies(settings, default_region="gb")}
    normalize, dedupe = built["normalize"], built["dedupe"]
    assert isinstance(normalize, NormalizePolicy)
    assert isinstance(dedupe, DedupePolicy)
    assert normalize.settings.default_region == "GB"
    assert dedupe.settings.default_region == "GB"
    assert build_policies(settings)[0].settings.default_region == "US"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        build_policies(settings, default_region="ZZ")


def test_unknown_sections_and_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        PoliciesSettings.model_validate({"tagz": {}})
    with pytest.raises(ValidationError):
        PoliciesSettings.model_validate({"dedupe": {"merge_treshold": 0.8}})


def test_every_setting_is_documented() -> None:
    def walk(model: type) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            if not info.description:
                missing.append(f"{model.__name__}.{name}")
            annotation = info.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += walk(annotation)
        return missing

    assert walk(PoliciesSettings) == []
