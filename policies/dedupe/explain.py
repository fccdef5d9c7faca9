"""Reasons a RevOps person can read: which fields made two records look like one."""

from __future__ import annotations

from model.fields import person_name
from policies.dedupe.features import Features
from policies.dedupe.scoring import OTHER_REGION, PairScore, email_similarity
from policies.normalizers import split_extension

_LABELS = {
    "email": "e-mail",
    "phone": "phone",
    "company": "company",
    "name": "name",
    "domain": "domain",
    "address": "address",
    "city": "city",
    "zip": "zip",
    "state": "state",
    "birthdate": "date of birth",
}


def _shown(f: Features, field: str) -> str:
    if field == "email":
        return f.emails[0] if f.emails else ""
    if field == "phone":
        return f.phones[0] if f.phones else ""
    if field == "domain":
        return f.domain
    return f.show(field)


def _shared(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    common = sorted(set(a) & set(b))
    if common:
        return common[0]
    numbers = sorted({split_extension(x)[0] for x in a} & {split_extension(y)[0] for y in b})
    return numbers[0] if numbers else ""


def _name_phrase(a: Features, b: Features, score: PairScore) -> str | None:
    sims = [score.similarities[f] for f in ("firstname", "lastname") if f in score.similarities]
    if not sims or sum(score.points.get(f, 0.0) for f in ("firstname", "lastname")) <= 0:
        return None
    left, right = person_name(a.record.properties), person_name(b.record.properties)
    value = sum(sims) / len(sims)
    if left.casefold() == right.casefold():
        return f"same name {left!r}"
    how = "first/last swapped, " if score.swapped else "nickname, " if score.nickname else ""
    return f"name {left!r} ~ {right!r} ({how}{value:.2f})"


def _field_phrase(a: Features, b: Features, field: str, similarity: float) -> str:
    label = _LABELS.get(field, field)
    if field == "phone" and similarity == OTHER_REGION:
        return f"phone {a.phones[0]} ~ {b.phones[0]} (same number, one without country code)"
    if field == "email" and 0 < similarity < 1.0:
        owners = ((a.first, a.last), (b.first, b.last))
        x, y = max(
            ((x, y) for x in a.emails for y in b.emails),
            key=lambda pair: email_similarity([pair[0]], [pair[1]], owners),
        )
        return f"e-mail {x} ~ {y} ({similarity:.2f}: a typo)"
    if field in ("email", "phone") and similarity > 0:
        values = (a.emails, b.emails) if field == "email" else (a.phones, b.phones)
        how = "" if similarity >= 1.0 else f" ({similarity:.2f}: extension on one side only)"
        return f"same {label} {_shared(*values)}{how}"
    left, right = _shown(a, field), _shown(b, field)
    if similarity >= 1.0 and left.casefold() == right.casefold():
        return f"same {label} {left!r}"
    return f"{label} {left!r} ~ {right!r} ({similarity:.2f})"


def explain(a: Features, b: Features, score: PairScore) -> str:
    """One line: the supporting fields, then any that disagree (``but different phone``)."""
    phrases: list[str] = []
    name = _name_phrase(a, b, score)
    if name:
        phrases.append(name)
    for field, similarity in score.evidence.items():
        if field not in ("firstname", "lastname"):
            phrases.append(_field_phrase(a, b, field, similarity))
    against = [
        "first name" if f == "firstname" else "last name" if f == "lastname" else _LABELS[f]
        for f in score.against
    ]
    text = ", ".join(phrases) or "weak overall similarity"
    if against:
        text += "; but different " + ", ".join(against)
    if score.held:
        text += f"; held for review: {score.held}"
    if score.raised:
        text += f"; for review: {score.raised}"
    return text
