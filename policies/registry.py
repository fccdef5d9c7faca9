"""The policies section of the configuration and the policies it builds.

``[policies.normalize]``, ``[policies.dedupe]`` and ``[policies.follow_up]`` are validated
here; :func:`build_policies` turns them into callables the engine runs, in a fixed order:
normalize, dedupe, follow_up.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from policies.base import Policy
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.follow_up import FollowUpPolicy, FollowUpSettings
from policies.normalize import NormalizePolicy, NormalizeSettings
from policies.required import RequiredPolicy, RequiredSettings
from policies.retire import RetirePolicy, RetireSettings
from policies.tags import TagsPolicy, TagsSettings


class PoliciesSettings(BaseModel):
    """All hygiene policy settings (``[policies]``); each section defaults to its defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    normalize: NormalizeSettings = Field(
        default_factory=NormalizeSettings, description="Field normalization."
    )
    dedupe: DedupeSettings = Field(
        default_factory=DedupeSettings, description="Duplicate detection and merges."
    )
    follow_up: FollowUpSettings = Field(
        default_factory=FollowUpSettings, description="Follow-up tasks for open leads and deals."
    )
    tags: TagsSettings = Field(
        default_factory=TagsSettings,
        description="Picklist and tag values to the CRM's canonical options, with synonyms.",
    )
    required: RequiredSettings = Field(
        default_factory=RequiredSettings,
        description="Required fields per object type and stage: findings or owner tasks.",
    )
    retire: RetireSettings = Field(
        default_factory=RetireSettings,
        description="Stale records (no activity, nothing open): reported, tagged or archived.",
    )


def build_policies(
    settings: PoliciesSettings, *, default_region: str | None = None
) -> list[Policy]:
    """The enabled policies, in order normalize, dedupe, follow_up.

    ``default_region`` (from the source's configuration) replaces the phone region of normalize
    and dedupe when given. Raises ``pydantic.ValidationError`` if it is not a known region.
    """
    policies: list[Policy] = []
    normalize, dedupe = settings.normalize, settings.dedupe
    if default_region is not None:
        normalize = NormalizeSettings.model_validate(
            normalize.model_dump() | {"default_region": default_region}
        )
        dedupe = DedupeSettings.model_validate(
            dedupe.model_dump() | {"default_region": default_region}
        )
    if normalize.enabled:
        policies.append(NormalizePolicy(normalize))
    if settings.tags.enabled:
        policies.append(TagsPolicy(settings.tags))
    if dedupe.enabled:
        policies.append(DedupePolicy(dedupe))
    if settings.follow_up.enabled:
        policies.append(FollowUpPolicy(settings.follow_up))
    if settings.required.enabled:
        policies.append(RequiredPolicy(settings.required))
    if settings.retire.enabled:
        policies.append(RetirePolicy(settings.retire))
    return policies
