"""Finishing many compared pairs at once: their confidences under learned weights, as columns.

:meth:`Scorer.finish <policies.dedupe.scoring.Scorer.finish>` turns one compared pair into a
:class:`~policies.dedupe.scoring.PairScore`, a Python call and a few dicts per pair: on data
where most candidate pairs are duplicates (dozens of records per person), that was half of a
run. :func:`finish_table` gives, for every row of a :class:`~policies.dedupe.scoring.PairTable`
tabulated with exact frequencies (``Columns.tabulate(..., exact=True)``), what ``finish``
decides with: the confidence, whether a rule holds the pair from a merge (and which), whether
its fields conflict, the points of its evidence.

Exact, not close: clustering compares these confidences with those of the pairs it scores one
by one, and an incremental run must decide what a full run decides. ``finish`` and this module
do the same IEEE operations in the same order: the points of a level are the model's own
``math.log`` values looked up, an exact match's the model's ``exact_points`` of the same
float64 frequency, sums run left to right in the order of ``FIELDS`` (a field that is absent
adds ``0.0``, which changes no sum), and the logistic's ``math.exp`` is applied per pair. A test
checks, on generated contacts and companies, FEBRL and records made to reach every branch,
that the two agree bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from policies.dedupe.scoring import (
    CONFLICT,
    CORROBORATION_SHARE,
    IDENTIFYING,
    NAMES,
    PLACE,
    SAME_LINE,
    SAME_NAME,
    SAME_PLACE,
    SAME_SITE,
    SITE_LEVEL,
    TWO_MAILBOXES,
    TWO_SITES,
    PairTable,
    Scorer,
    another,
    corroboration,
)
from policies.dedupe.weights import CUTS, PLACES, TERM_FREQUENCY

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]

#: What holds a pair from an automatic merge, by code (0: nothing).
HELD: tuple[str, ...] = (
    "",
    another(["firstname"]),
    another(["lastname"]),
    another(["firstname", "lastname"]),
    TWO_MAILBOXES,
    TWO_SITES,
)
#: What proposes a pair of companies for review whatever it scores, by code (0: nothing).
RAISED: tuple[str, ...] = ("", SAME_SITE, SAME_LINE, SAME_NAME, SAME_PLACE)


@dataclass(frozen=True, slots=True)
class Finished:
    """Per row of a table, what :meth:`Scorer.finish` decides."""

    confidence: Floats
    held: Codes  # into HELD
    raised: Codes  # into RAISED
    conflict: Bools
    evidence_points: Floats
    least: Floats  # the lowest points of a field compared (0.0: none)

    @classmethod
    def joined(cls, parts: list[Finished]) -> Finished:
        """The rows of ``parts``, one after the other."""
        if not parts:
            empty = np.zeros(0)
            none = np.zeros(0, dtype=np.int8)
            return cls(empty, none, none, np.zeros(0, dtype=np.bool_), empty, empty)
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__slots__))


def finish_table(scorer: Scorer, table: PairTable, channels: Bools) -> Finished:
    """What ``scorer.finish`` (learned weights) decides for each row of ``table``.

    ``table`` must hold float64 frequencies; ``channels``: per row, whether either record has
    an e-mail, a phone or a company (``Compared.channels``).
    """
    model, settings = scorer.model, scorer.settings
    if model is None:
        raise ValueError("the column-wise finish needs learned weights")
    if table.frequency.dtype != np.float64:
        raise ValueError("the column-wise finish needs the exact (float64) frequencies")
    rows = len(table.levels)
    column = {f: k for k, f in enumerate(table.fields)}
    place = PLACE[scorer.object_type]
    level = {f: table.levels[:, k] for f, k in column.items()}

    def exact(field: str) -> Bools:
        """The rows where ``Compared.values`` holds the field (an exact match on a value)."""
        found: Bools = ~np.isnan(table.frequency[:, column[field]])
        return found

    points: dict[str, Floats] = {}
    for field in table.fields:  # Scorer._learned
        lvl = level[field]
        found = model.fields[field]
        per_level = np.asarray([model.points(field, n) for n in range(len(found.m))])
        out = np.where(lvl >= 0, per_level[np.maximum(lvl, 0)], 0.0)
        if field in TERM_FREQUENCY:
            at = np.flatnonzero(exact(field) & (lvl == len(found.m) - 1))
            if len(at):
                share, inverse = np.unique(table.frequency[at, column[field]], return_inverse=True)
                tf = np.fromiter(
                    (model.exact_points(field, s) for s in share.tolist()), np.float64, len(share)
                )
                out[at] = tf[inverse.reshape(-1)]
        if field == "email":
            override = (lvl >= 0) & ~np.isnan(table.email_points)
            out[override] = table.email_points[override]
        points[field] = out
    same_full_name = (
        exact("firstname") & exact("lastname")
        if "firstname" in column
        else np.zeros(rows, dtype=np.bool_)
    )
    if model.name_pair and "lastname" in column:
        lifted = points["lastname"] + model.name_pair
        points["lastname"] = np.where(same_full_name, lifted, points["lastname"])

    least = np.full(rows, np.inf)
    for field in table.fields:
        least = np.where(level[field] >= 0, np.minimum(least, points[field]), least)
    least[np.isinf(least)] = 0.0
    names = np.zeros(rows)
    for field in table.fields:
        if field in NAMES:
            names += points[field]
    others = [f for f in table.fields if f not in NAMES]
    total = model.prior + names + _place_total(points, others, place, settings.place_share)
    positive = {f: np.maximum(points[f], 0.0) for f in others}
    support = _place_total(positive, others, place, CORROBORATION_SHARE)

    cap = np.ones(rows)
    low = support < settings.min_corroboration
    ids = [f for f in others if f in IDENTIFYING[scorer.object_type]]
    if ids:  # ... nor an e-mail or a date of birth identifying enough, as in a large population
        identifying = np.zeros(rows)
        for field in ids:
            identifying += positive[field]
        low &= corroboration(support, identifying, model) < settings.min_corroboration
    if "firstname" in column:  # Scorer._one_at_a_place
        near = np.ones(rows, dtype=np.bool_)
        for field in ("firstname", "lastname"):
            near &= level[field] >= len(CUTS[field]) - 1
        if model.name_place >= settings.merge_threshold:
            at_place = np.zeros(rows, dtype=np.bool_)
            for field in PLACES:
                at_place |= level[field] == len(CUTS[field])
            low &= ~(near & at_place)
        if model.name_birth >= settings.merge_threshold and "birthdate" in column:
            low &= ~(near & (level["birthdate"] >= len(CUTS["birthdate"]) - 1))
    cap[low] = settings.review_cap
    held = np.zeros(rows, dtype=np.int8)
    rule = settings.different_name
    if rule != "score" and "firstname" in column:
        first, last = level["firstname"] == 0, level["lastname"] == 0
        mailbox = level["email"] == 0
        same_mailbox = level["email"] == len(CUTS["email"])
        name_held = (first | last) & ~same_mailbox & ((rule == "review") | channels)
        cap[name_held] = settings.review_cap
        held[name_held & first] = 1
        held[name_held & last] = 2
        held[name_held & first & last] = 3
        two_people = name_held & (
            (first & last) | (first & ~last & mailbox) | (mailbox & (level["phone"] == 0))
        )
        cap[two_people] = math.nextafter(settings.review_threshold, 0.0)

    conflict = np.ones(rows, dtype=np.bool_)
    for field in CONFLICT[scorer.object_type]:
        conflict &= (level[field] >= 0) & (points[field] < 0)
    total[conflict] -= settings.conflict_penalty
    clipped = np.clip(total, -700.0, 700.0)
    exp = np.fromiter(map(math.exp, (-clipped).tolist()), dtype=np.float64, count=rows)
    confidence = np.minimum(cap, 1.0 / (1.0 + exp))
    if "email" in column and settings.two_mailboxes == "review":
        two_mailboxes = (level["email"] == 0) & ~np.isnan(table.email_points)
        confidence[two_mailboxes] = np.minimum(confidence[two_mailboxes], settings.review_cap)
        held[two_mailboxes & (held == 0)] = HELD.index(TWO_MAILBOXES)
    if scorer.object_type == "companies" and "address" in column and settings.two_sites == "review":
        sites = (level["address"] >= 0) & (level["address"] <= SITE_LEVEL)
        if "domain" in column:  # one web domain: one firm (Scorer.finish)
            sites &= level["domain"] != len(CUTS["domain"])
        confidence[sites] = np.minimum(confidence[sites], settings.review_cap)
        held[sites & (held == 0)] = HELD.index(TWO_SITES)

    raised = np.zeros(rows, dtype=np.int8)
    if scorer.object_type == "companies":
        review_at = settings.review_threshold
        rules = scorer.raised_rules(table)
        proposed = (rules > 0) & (confidence < review_at)
        raised[proposed] = rules[proposed]
        confidence[proposed] = review_at
    return Finished(confidence, held, raised, conflict, total - model.prior, least)


def _place_total(
    points: dict[str, Floats], fields: list[str], place: frozenset[str], share: float
) -> Floats:
    """``Scorer._place_total`` of the columns ``fields`` of ``points``: the others and every
    negative place field in full, the best positive place field in full and the rest at
    ``share`` (sorted best first, added in that order)."""
    rows = len(next(iter(points.values())))
    total = np.zeros(rows)
    support = []
    for field in fields:
        p = points[field]
        if field in place:
            total += np.minimum(p, 0.0)
            support.append(np.maximum(p, 0.0))
        else:
            total += p
    if support:
        ranked = -np.sort(-np.stack(support, axis=1), axis=1)
        rest = np.zeros(rows)
        for k in range(1, ranked.shape[1]):
            rest += ranked[:, k]
        total += ranked[:, 0] + share * rest
    return total
