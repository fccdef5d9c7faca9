"""The custom multi-select ``tags`` property on contacts: canonical tags and their legacy
synonyms.

A multiple-checkbox enumeration in HubSpot only holds option values, so messy tags are not free
text: they are extra options someone created over the years (by import, by hand, with the label
as internal value) that mean the same as a canonical one. They stay in the property definition
(some hidden) and on records until a hygiene policy rewrites them.
"""

from __future__ import annotations

from typing import Final

# canonical value -> label
CANONICAL_TAGS: Final[dict[str, str]] = {
    "follow_up_needed": "Follow-up needed",
    "vip": "VIP",
    "newsletter": "Newsletter",
    "partner": "Partner",
    "churn_risk": "Churn risk",
    "event_attendee": "Event attendee",
    "decision_maker": "Decision maker",
}

# How often each canonical tag is set on a tagged contact (weights).
TAG_WEIGHTS: Final[dict[str, int]] = {
    "newsletter": 34, "follow_up_needed": 22, "vip": 10, "event_attendee": 14, "partner": 8,
    "churn_risk": 7, "decision_maker": 12,
}  # fmt: skip

# canonical value -> legacy options meaning the same: (value, label, hidden)
TAG_SYNONYMS: Final[dict[str, tuple[tuple[str, str, bool], ...]]] = {
    "follow_up_needed": (
        ("follow up", "follow up", False),
        ("Follow-up needed", "Follow-up needed (import)", False),
        ("FOLLOW_UP", "FOLLOW_UP", True),
        ("follow_up", "Follow up", False),
        ("followup_needed", "Followup needed", True),
        ("needs follow-up", "Needs follow-up", False),
    ),
    "vip": (
        ("VIP", "VIP (old)", False),
        ("v.i.p.", "v.i.p.", True),
        ("Vip", "Vip", False),
        ("vip_customer", "VIP customer", True),
    ),
    "newsletter": (
        ("Newsletter", "Newsletter (2019 import)", True),
        ("newsletter_subscriber", "Newsletter subscriber", False),
        ("news letter", "news letter", False),
    ),
    "partner": (
        ("Partner", "Partner (legacy)", True),
        ("partners", "partners", False),
        ("PARTNER", "PARTNER", True),
    ),
    "churn_risk": (
        ("Churn Risk", "Churn Risk", False),
        ("churn-risk", "churn-risk", True),
        ("at risk", "At risk", False),
        ("at_risk_of_churn", "At risk of churn", True),
    ),
    "event_attendee": (
        ("Event Attendee", "Event Attendee", False),
        ("event attendee", "event attendee", True),
        ("attended_event", "Attended event", False),
    ),
    "decision_maker": (
        ("Decision Maker", "Decision Maker", False),
        ("decision-maker", "decision-maker", True),
    ),
}

SYNONYM_OF: Final[dict[str, str]] = {
    value: canonical for canonical, syns in TAG_SYNONYMS.items() for value, _, _ in syns
}


def canonical_tags(raw: str) -> str:
    """The canonical form of a ``;``-joined tags value: each synonym replaced by its canonical
    value, duplicates dropped, first appearance kept in order."""
    seen: list[str] = []
    for value in raw.split(";"):
        canon = SYNONYM_OF.get(value, value)
        if canon not in seen:
            seen.append(canon)
    return ";".join(seen)
