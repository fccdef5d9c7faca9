"""Settings of the dedupe policy (``[policies.dedupe]``).

Scoring is a sum of log-odds ("points"): each compared field adds between its ``disagree`` and
``agree`` points depending on its similarity, a field missing on either side adds nothing, the
sum starts at ``prior`` and the confidence is ``1 / (1 + exp(-points))``. So a name alone stays
below the review threshold, a name plus a shared e-mail or phone is a sure match, and name plus
company, address, city and zip is enough when e-mail and phone are missing.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.normalizers import check_region

ContactBlockingKey = Literal[
    "email",
    "phone",
    "name",
    "name_typo",
    "zip_name",
    "address",
    "email_local",
    "company_name",
    "birthdate",
]
CompanyBlockingKey = Literal["domain", "phone", "name", "name_words", "zip_name", "address"]
PrimaryRule = Literal["oldest", "most_complete", "most_recent", "owned"]
Survivorship = Literal["primary", "most_recent", "most_complete"]


class Comparison(BaseModel):
    """How much one field's similarity (0..1) moves the match score, in log-odds points.

    Similarity ``1`` adds ``agree``; similarity at or below ``floor`` adds ``disagree`` (a
    negative number); in between is linear.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    agree: float = Field(description="Points added when the values match exactly.")
    disagree: float = Field(description="Points added (usually negative) when they differ.")
    floor: float = Field(
        ge=0.0, lt=1.0, description="Similarity at or below which the values count as different."
    )

    def points(self, similarity: float) -> float:
        """The points a similarity is worth."""
        if similarity <= self.floor:
            return self.disagree
        share = min(1.0, (similarity - self.floor) / (1.0 - self.floor))
        return self.disagree + (self.agree - self.disagree) * share


def _cmp(agree: float, disagree: float, floor: float) -> Comparison:
    return Comparison(agree=agree, disagree=disagree, floor=floor)


class ContactWeights(BaseModel):
    """Per-field comparisons for contacts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    firstname: Comparison = Field(
        default=_cmp(2.0, -6.0, 0.85),
        description="First name: Jaro-Winkler; 1.0 for nicknames of one another (Bob ~ "
        "Robert), 0.97 for an initial (J. ~ John) or one typo.",
    )
    lastname: Comparison = Field(
        default=_cmp(3.0, -4.0, 0.85),
        description="Last name: Jaro-Winkler; at least 0.97 for one typo.",
    )
    email: Comparison = Field(
        default=_cmp(6.0, -1.0, 0.5),
        description="E-mail (primary and additional): 1.0 when any address is shared; the "
        "similarity of two one typo apart (0.85 or more: a local part at one domain, or a "
        "domain); else 0.",
    )
    email_same_domain: float = Field(
        default=-4.0,
        description="Points (instead of email.disagree) when both have e-mails at one domain "
        "but no address in common: two mailboxes, likely two people.",
    )
    phone: Comparison = Field(
        default=_cmp(4.5, -1.0, 0.5),
        description="Phone/mobile as E.164: 1.0 when a number (with its extension) is shared, "
        "0.75 when one side lacks the extension, else 0.",
    )
    company: Comparison = Field(
        default=_cmp(1.5, -1.0, 0.5),
        description="Company name without legal suffixes: token_set_ratio.",
    )
    address: Comparison = Field(
        default=_cmp(1.5, -0.5, 0.5), description="Street address: token_set_ratio."
    )
    city: Comparison = Field(default=_cmp(0.8, -0.8, 0.8), description="City: ratio.")
    zip: Comparison = Field(default=_cmp(1.2, -0.5, 0.5), description="Zip: exact.")
    birthdate: Comparison = Field(
        default=_cmp(5.0, -4.0, 0.6),
        description="Date of birth: 1.0 the same day, 0.9 one digit wrong or day and month "
        "swapped, 0.7 within a year, else 0.",
    )


class CompanyWeights(BaseModel):
    """Per-field comparisons for companies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Comparison = Field(
        default=_cmp(4.0, -4.0, 0.6),
        description="Company name without legal suffixes: token_set_ratio.",
    )
    domain: Comparison = Field(
        default=_cmp(6.0, -2.0, 0.5),
        description="Domain (from domain or website): exact.",
    )
    phone: Comparison = Field(
        default=_cmp(3.0, -0.5, 0.5), description="Phone as E.164: 1.0 when shared, else 0."
    )
    address: Comparison = Field(
        default=_cmp(1.5, -0.5, 0.5), description="Street address: token_set_ratio."
    )
    city: Comparison = Field(default=_cmp(0.8, -0.8, 0.8), description="City: ratio.")
    zip: Comparison = Field(default=_cmp(1.0, -0.5, 0.5), description="Zip: exact.")


_SYSTEM_FIELDS = ("created_at", "updated_at", "merged_ids", "additional_emails", "last_activity_at")


class Guards(BaseModel):
    """Pairs that are never merged automatically, whatever their score: at most a review.

    A merge cannot be undone in the CRM, so a person decides where merging would join what the
    team keeps apart on purpose. Each rule looks at the two records of a pair.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    both_in: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Field -> values: both records hold one of the values (case-insensitive), "
        "e.g. {lifecycle_stage = ['customer']}: two customers.",
    )
    differ: tuple[str, ...] = Field(
        default=(),
        description="Fields that both records fill with different values, e.g. ['owner_id']: "
        "two owners.",
    )
    both_open_deals: bool = Field(
        default=False,
        description="Both records are associated with an open deal (one the CRM does not mark "
        "closed: canonical is_closed).",
    )


class DedupeSettings(BaseModel):
    """Settings of the dedupe policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    object_types: tuple[Literal["contacts", "companies"], ...] = Field(
        default=("contacts", "companies"), description="Object types to find duplicates in."
    )
    leads_against_contacts: bool = Field(
        default=True,
        description="Where the CRM keeps leads apart from contacts, report a lead that "
        "duplicates a contact (a finding: a person converts the lead; a CRM never merges a lead "
        "into a contact).",
    )
    merge_threshold: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="Confidence at or above which records are merged automatically.",
    )
    review_threshold: float = Field(
        default=0.75,
        gt=0.0,
        le=1.0,
        description="Confidence at or above which (but below merge_threshold) a merge is "
        "proposed for review only.",
    )
    two_mailboxes: Literal["review", "score"] = Field(
        default="review",
        description="Two records with different e-mail addresses at one domain: 'review' (at "
        "most a pair for review, never merged automatically: colleagues and relatives share "
        "a firm's domain) or 'score' (scored like any other pair).",
    )
    two_sites: Literal["review", "score"] = Field(
        default="review",
        description="Two companies at street addresses that differ (another street, or house "
        "numbers that all differ) and not of one web domain: 'review' (at most a pair for "
        "review, never merged automatically: two sites of one firm sharing its name and "
        "switchboard, or a firm that moved, are a person's call) or 'score' (scored like any "
        "other pair). One domain is one firm, its head office and branches one account.",
    )
    different_name: Literal["review", "conflict", "score"] = Field(
        default="conflict",
        description="With learned weights, two contacts whose first or last names differ "
        "outright (not a nickname, an initial or a typo): 'review' (never merged "
        "automatically: relatives or colleagues at one address), 'conflict' (review when "
        "either has an e-mail, a phone or a company, the records of people at a firm or "
        "with a household line; records with only names and postal addresses are left to "
        "the weights: a mangled name at one address merges) or 'score' (the weights decide). "
        "Under 'review' and 'conflict', two people beyond doubt are not even reviewed: both "
        "names differ, the first name and the e-mail do, or the e-mail and the phone; and "
        "no automatic merge holds two given names each on two records or more that differ "
        "outright, unless a date of birth, an e-mail or a phone says one person (relatives "
        "at one address, linked through a record whose first name is a title or missing: "
        "reviewed instead).",
    )
    primary_rule: PrimaryRule = Field(
        default="oldest",
        description="Which record of a cluster survives: 'oldest' (earliest created; ties by "
        "most filled fields, then lowest id), 'most_complete' (most filled fields; ties by "
        "oldest, then lowest id), 'most_recent' (latest modified; ties by most filled "
        "fields, then lowest id) or 'owned' (records with an owner first, then as 'oldest').",
    )
    survivorship: Survivorship = Field(
        default="primary",
        description="Which value of a field the merged record keeps: 'primary' (the primary's, "
        "or when it is empty the most recently modified other record's), 'most_recent' (the "
        "most recently modified record's non-empty value) or 'most_complete' (the longest "
        "non-empty value; ties by recency).",
    )
    field_survivorship: dict[str, Survivorship] = Field(
        default_factory=dict,
        description="Per field overrides of survivorship, e.g. {phone = 'most_recent'}.",
    )
    default_region: str = Field(
        default="US",
        description="Region in which phone numbers without '+' are read for comparison.",
    )
    contact_blocking: tuple[ContactBlockingKey, ...] = Field(
        default=(
            "email", "phone", "name", "name_typo", "zip_name", "address", "email_local",
            "company_name", "birthdate",
        ),
        description="Blocking keys for contacts: only records sharing a key are compared. "
        "'name': sound of both names, either way round; 'name_typo': a name with one letter "
        "dropped beside the other name, and the last name beside the first's initial; "
        "'zip_name': postcode with a name's first letters, city with the last name (or the one "
        "name a record holds), city with the first name as its formal name; "
        "'address': postcode with house number, house number with a street word or a name, "
        "postcode with a street word; 'birthdate': date of birth with the sound or the "
        "first letter of either name, or with the city or the postcode.",
    )  # fmt: skip
    company_blocking: tuple[CompanyBlockingKey, ...] = Field(
        default=("domain", "phone", "name", "name_words", "zip_name", "address"),
        description="Blocking keys for companies ('name': the first word, also one typo "
        "away beside the next word's first letter, and the first six letters run together; "
        "'name_words': any word of the name).",
    )
    max_block_size: int = Field(
        default=100,
        ge=2,
        description="Blocks larger than this are split by sorted neighbourhood (members "
        "sorted by name and address, each compared with the next block_window ones, and the "
        "first of each name and address with the next block_window names' and addresses' "
        "first).",
    )
    block_window: int = Field(default=10, ge=1, description="Neighbours compared in a split block.")
    max_pairs_per_record: float | None = Field(
        default=30.0,
        gt=0,
        description="Candidate pairs allowed per record: blocks are split past the largest "
        "size (up to max_block_size) that keeps their pairs within this many times the "
        "records, so that pairs grow with the records, not with their square. Empty: split "
        "past max_block_size only.",
    )
    learn_weights: bool = Field(
        default=True,
        description="Estimate match weights from the snapshot (u from random pairs, m by "
        "expectation maximisation) instead of the configured ones, when large enough.",
    )
    reestimate_days: float = Field(
        default=7.0,
        ge=0.0,
        description="Learned weights are stored with the plan and kept, frozen, for this many "
        "days (clusters stay stable); then the next plan estimates them again. 0: every plan.",
    )
    seed: int = Field(
        default=0, description="Seed of the random pairs the weights are estimated from."
    )
    u_sample_pairs: int = Field(
        default=30_000, ge=100, description="Random pairs drawn to estimate u."
    )
    min_records: int = Field(
        default=1000,
        ge=2,
        description="Fewer records than this: too few to learn from, the configured weights "
        "are used.",
    )
    min_matches: float = Field(
        default=20.0,
        ge=0.0,
        description="Fewer estimated matches than this: the configured weights are used.",
    )
    min_corroboration: float = Field(
        default=6.5,
        description="With learned weights, the points that the agreeing fields other than the "
        "names must add up to for an automatic merge (place fields beyond the best count for "
        "0.3 of theirs): a name, however rare, plus a city or a company is a namesake as "
        "often as a duplicate, so at most a review -- unless the snapshot shows one full name "
        "at one place to be one person at least merge_threshold of the time (among such pairs "
        "holding an e-mail, a phone or a date of birth, the weights' name_place), or one full "
        "name born on one day, give or take a typo in the date (among such pairs holding a "
        "place, an e-mail or a phone, the weights' name_birth). An e-mail or "
        "a date of birth alone must add that much from 50,000 records up, and less "
        "in a smaller population (times ln(records) / ln(50,000)), whose values cannot be "
        "rarer than one record in it; beside a place, its points count as they would in "
        "50,000 records.",
    )
    place_share: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="With learned weights, the share of their points that the fields of a "
        "place (address, city, zip, state, company, a shared line) add beyond the best one: "
        "they describe one firm or household, not one person.",
    )
    guards: Guards = Field(
        default_factory=Guards, description="Pairs sent to review instead of merged."
    )
    cluster_link_floor: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Two clusters join when every pair across them scores the threshold, or "
        "scores at least this floor without contradicting (see cluster_contradiction): a "
        "sparse record may match a cluster through another member. 1.0 gives strict "
        "complete linkage (and no clusters joined as wholes: see cluster_wholes).",
    )
    cluster_wholes: bool = Field(
        default=True,
        description="Two clusters some of whose pairs across do not agree (one odd record "
        "among a person's many) still merge when one holds three records or more, more than "
        "half the pairs across them agree, none of those "
        "that do not is held for review or kept apart by a person, and what most records of "
        "each say (per field, the value most of them hold) agrees at merge_threshold. False: "
        "every pair across must agree.",
    )
    cluster_contradiction: float = Field(
        default=-2.0,
        le=0.0,
        description="A field worth this many points or fewer (a different first name, two "
        "mailboxes at one domain) makes a pair contradict: such records never share a "
        "cluster unless they match outright.",
    )
    max_cluster_size: int = Field(
        default=50, ge=2, description="Clusters stop growing at this many records."
    )
    prior: float = Field(
        default=-4.0, description="Log-odds points a pair starts from before any evidence."
    )
    shared_value_count: int = Field(
        default=5,
        ge=2,
        description="An e-mail, phone or street address on at least this many records is "
        "shared (a switchboard, an info@ box, an office) rather than personal.",
    )
    shared_value_factor: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Share of its usual points a match on a shared value is worth.",
    )
    conflict_penalty: float = Field(
        default=3.0,
        ge=0.0,
        description="Points taken off when e-mail (domain for companies), phone and city are "
        "all present on both sides and all differ.",
    )
    contact_weights: ContactWeights = Field(
        default_factory=ContactWeights, description="Field comparisons for contacts."
    )
    company_weights: CompanyWeights = Field(
        default_factory=CompanyWeights, description="Field comparisons for companies."
    )
    survivorship_exclude: tuple[str, ...] = Field(
        default=_SYSTEM_FIELDS,
        description="Fields never copied from a merged record to the primary (read-only "
        "fields such as lead_open never are).",
    )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return check_region(value)

    @property
    def review_cap(self) -> float:
        """The highest confidence that is still below ``merge_threshold`` (review at most)."""
        return math.nextafter(self.merge_threshold, 0.0)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> DedupeSettings:
        if self.review_threshold > self.merge_threshold:
            raise ValueError("review_threshold must not exceed merge_threshold")
        return self
