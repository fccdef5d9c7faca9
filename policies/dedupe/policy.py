"""The dedupe policy: find duplicate contacts and companies and propose merges.

Per object type: extract comparable features, block, compare the candidate pairs column-wise
(:mod:`policies.dedupe.columns`: their agreement levels, which the weights are learned from),
score in full those whose bound reaches ``review_threshold`` (unless their levels already hold
them below it as two people: :meth:`Scorer.apart`) -- column-wise too under learned weights
(:mod:`policies.dedupe.finish`, with the other pairs of each dense component of the edges,
which clustering asks about; :mod:`policies.dedupe.pairs` keeps their verdicts and scores any
other pair one by one) --, then cluster in two passes, each joining
clusters along their best links only when every pair across them is compatible (complete
linkage): it reaches the pass's threshold, or it scores at least ``cluster_link_floor`` without
contradicting (no field worth ``cluster_contradiction`` points or less, such as a different
first name, and not the e-mail/phone/city conflict) -- a record too
sparse to match another on its own may join, a record that contradicts a member may not. So
A~B and B~C never put A and C in one cluster when A and C contradict. With learned weights
(:mod:`policies.dedupe.weights`) the weights already count each disagreement: a pair is
compatible when it is not held for review (a guard, another name at one firm or line, two
mailboxes), not in conflict, and scores the floor or -- in pass one -- its fields speak for it
more than against it (the records of one person with different typos). Pass one links at
``merge_threshold``: each cluster becomes a ``Merge`` (kind ``merge``). Pass two links those
clusters at ``review_threshold``: each group of two or more clusters becomes a ``Merge`` of kind
``review`` proposing to merge the clusters' primaries (so an approved review lands on top of
the automatic merges without contradicting them).

A person's review decisions (``snapshot.decisions``, see :mod:`policies.dedupe.decisions`)
constrain both passes: an approved group starts pass one joined and becomes a ``merge`` whose
reason starts with "approved by a person"; no two records of a rejected group share a cluster.

Weights: stored ones from ``snapshot.learned["dedupe"]`` when given (frozen by the engine
between re-estimations), else estimated from this snapshot with the settings' ``seed``, else
(too few records) the configured ones. Pairs a guard catches (:mod:`policies.dedupe.guards`) are
held below ``merge_threshold``. :meth:`DedupePolicy.analyse` also reports the candidate count.

The primary of a cluster follows ``primary_rule``. ``field_values`` fills each field the primary
lacks with the value of the most recently modified other record that has one. Dedupe never
proposes field updates of its own; it only normalizes values internally to compare them.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import combinations

import numpy as np
import numpy.typing as npt

from model.changes import Change, Flag, Merge, Snapshot
from model.fields import is_writable
from model.records import Record, id_key
from policies.base import Policy
from policies.dedupe import given_names
from policies.dedupe.blocking import (
    Candidates,
    Indices,
    block_cap,
    candidate_pairs,
    candidates,
    record_keys,
    unique_pairs,
    window_order,
)
from policies.dedupe.clustering import Cluster, Edge, agglomerate, dense_pairs, sort_edges
from policies.dedupe.columns import Columns
from policies.dedupe.decisions import Constraints, constraints
from policies.dedupe.explain import explain
from policies.dedupe.features import Features, consensus, extract
from policies.dedupe.finish import Finished, finish_table
from policies.dedupe.guards import Guard, guard_check, open_deal_holders
from policies.dedupe.incremental import (
    SIGNED,
    KeyIndex,
    Memory,
    both_sided,
    components,
    count_changes,
    head_neighbours,
    looked_up,
    signature,
    value_heads,
    window_neighbours,
)
from policies.dedupe.pairs import Pairs, Verdict
from policies.dedupe.patterns import Patterns
from policies.dedupe.scoring import (
    BOUND_MARGIN,
    FIELDS,
    MAILBOX,
    MIN_NAMES_FOR_RARITY,
    PLACE,
    SITE,
    Frozen,
    PairScore,
    PairTable,
    Scorer,
    mailbox_of,
    site_of,
)
from policies.dedupe.settings import DedupeSettings
from policies.dedupe.weights import (
    CUTS,
    MatchModel,
    Tally,
    estimate,
    name_birth_share,
    name_pair_points,
    name_place_share,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PairFunction = Callable[[int, int], PairScore]
VerdictFunction = Callable[[int, int], Verdict]
PRESENT = "present"
"""The key of the learned weights that holds, per term-frequency field, how many records had
it: the frequencies' denominators, frozen with the weights (:class:`Frozen`)."""
CAP = "cap"
"""The key of the learned weights that holds the block size past which blocking split blocks
when they were learned (``size``), the records it was worked out for and the settings it came
from: kept with the weights, so that a record count that moves a little between two
re-estimations does not move the cap (which a service's incremental run cannot follow: it
would compare everything again). Used while the records are within :data:`CAP_BAND` of that
count and the settings are the same; worked out afresh otherwise."""
CAP_BAND = 0.1
VALUES = "values"
"""The key of the learned weights that holds, per term-frequency field, the values two records
or more had and how many: the frequencies' numerators, frozen with the weights
(:class:`Frozen`). At 100k generated contacts (and their 20k companies), some 27.7k values,
0.5 MB of JSON (every value, once ones included, would be 151k and 3.9 MB): small enough to
travel with the plan, in its baseline, as the weights do."""


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def primary_key(rule: str) -> Callable[[Features], tuple[object, ...]]:
    """Sort key whose smallest record is the primary under ``rule``."""

    def created(f: Features) -> tuple[int, datetime]:
        return (0, _utc(f.created)) if f.created is not None else (1, _EPOCH)

    if rule == "most_complete":
        return lambda f: (-f.filled, created(f), id_key(f.id))
    if rule == "most_recent":
        return lambda f: (-_utc(f.updated).timestamp(), -f.filled, id_key(f.id))
    if rule == "owned":
        return lambda f: (
            _blank(f.record.properties.get("owner_id")),
            created(f),
            -f.filled,
            id_key(f.id),
        )
    return lambda f: (created(f), -f.filled, id_key(f.id))


@dataclass(frozen=True, slots=True)
class _Run:
    """What explaining a cluster needs from one run over an object type."""

    source: str
    feats: Sequence[Features]
    pair: VerdictFunction  # the verdict on a pair (clustering)
    full: PairFunction  # its full score (explaining)
    model: MatchModel | None
    weights: str = ""  # what each reason ends with: the weights' version and seed, once


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What learning computed from one object type's records, kept for the merge call that
    follows on the very same records (``records`` is that sequence: a snapshot's records are
    frozen, so the same sequence gives the same features, pairs and table)."""

    records: Sequence[Record]
    feats: list[Features]
    scorer: Scorer
    columns: Columns
    found: Candidates
    keys: Sequence[set[str]]  # each record's blocking keys (for an incremental run's memory)
    table: PairTable | Patterns | None = None  # of every candidate pair, from learning


@dataclass(frozen=True, slots=True)
class Analysis:
    """One run over an object type: the merges, the candidate pairs, the weights used."""

    merges: list[Merge]
    candidates: Candidates
    model: MatchModel | None  # None: the configured weights
    scored: int = 0  # candidate pairs scored in full (their bound reached review_threshold)
    compared: int = 0  # pairs the column-wise tables left to a one-by-one comparison


def _scopes(feats: Sequence[Features]) -> npt.NDArray[np.int32]:
    """Per record, a code of its ``merge_scope`` (0: none, an ordinary record): records of
    different codes are never merged (a Salesforce person account and an ordinary contact)."""
    codes: dict[str, int] = {"": 0}
    return np.array(
        [
            codes.setdefault((f.record.properties.get("merge_scope") or "").strip(), len(codes))
            for f in feats
        ],
        dtype=np.int32,
    )


WHOLE_RECORDS = 3
"""Records the larger of two clusters holds, at least, for them to be compared as wholes when
some pairs across do not agree (``cluster_wholes``): two records say nothing by majority."""
KEPT_TABLE_BYTES = 1 << 29
"""The most memory the table of every candidate pair may take to be kept from learning for the
merge call that follows (about 10 million pairs of contacts). A larger one is worked out a slice
at a time and tallied, with each pair's pattern kept (:class:`Patterns`): the merge call then
tabulates again only the pairs whose pattern may reach the review threshold."""
TABLE_ROWS = 1 << 20
"""Candidate pairs tabulated at once when the whole table is not kept."""


def _tabulated(
    columns: Columns, found: Candidates, clamp: npt.NDArray[np.float64] | None
) -> tuple[PairTable | Patterns, Tally]:
    """The tally of the candidate pairs' levels (and decisions) for learning, with the table of
    them all when it fits :data:`KEPT_TABLE_BYTES`, their :class:`Patterns` otherwise."""
    fields = FIELDS[columns.scorer.object_type]
    row_bytes = 5 * len(fields) + 8  # levels int8, frequency float32 per field, e-mail float64
    if found.count * row_bytes <= KEPT_TABLE_BYTES:
        table = columns.tabulate(found.left, found.right)
        return table, Tally.of(fields, table.levels, clamp)
    parts = []
    patterns = Patterns.collect(fields, found.count)
    for start in range(0, found.count, TABLE_ROWS):
        part = slice(start, start + TABLE_ROWS)
        table = columns.tabulate(found.left[part], found.right[part])
        tally = patterns.add(table)
        parts.append(tally if clamp is None else Tally.of(fields, table.levels, clamp[part]))
    return patterns.build(), Tally.merged(parts)


def _named_apart(
    feats: Sequence[Features], items: Sequence[int], primary_of: Mapping[int, int]
) -> str:
    """Why the clusters of ``items`` (by primary) were not merged, when two of them are known
    under two given names (:mod:`policies.dedupe.given_names`); ``""`` when none are."""
    clusters: dict[int, list[int]] = {}
    for i in items:
        clusters.setdefault(primary_of.get(i, i), []).append(i)
    for a, b in combinations(sorted(clusters.values()), 2):
        names = given_names.apart(feats, a, b)
        if names is not None:
            return (
                f"; not merged automatically: two given names, each on several records "
                f"({names[0]!r} and {names[1]!r}), and no date of birth, e-mail or phone in "
                "common: perhaps relatives at one address"
            )
    return ""


def _channels(feats: Sequence[Features]) -> npt.NDArray[np.bool_]:
    """Per record, whether it has an e-mail, a phone or a company (see ``Compared.channels``)."""
    return np.fromiter(
        (bool(f.emails or f.phones or f.org) for f in feats), dtype=np.bool_, count=len(feats)
    )


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _logit(probability: float) -> float:
    """The log-odds of a probability (36: past it, a confidence rounds to 1.0)."""
    if probability >= 1.0:
        return 36.0
    return math.log(probability / (1.0 - probability))


def _name_pair(feats: Sequence[Features], model: MatchModel) -> float:
    """:func:`name_pair_points` of the records having both names."""
    codes: dict[str, int] = {}
    named = [(f.first, f.last) for f in feats if f.first and f.last]
    first = np.fromiter((codes.setdefault(a, len(codes)) for a, _ in named), np.int64, len(named))
    last = np.fromiter((codes.setdefault(b, len(codes)) for _, b in named), np.int64, len(named))
    m_first, m_last = model.fields["firstname"].m[-1], model.fields["lastname"].m[-1]
    return name_pair_points(first, last, matches=model.matches, m_first=m_first, m_last=m_last)


def _clamp(found: Candidates, rules: Constraints, n: int) -> npt.NDArray[np.float64] | None:
    """Per candidate pair, 1 (a person approved it), 0 (rejected) or NaN (no decision);
    ``None`` when there are no decisions."""
    if not rules.approved and not rules.forbidden:
        return None
    clamp = np.full(found.count, np.nan)
    if rules.approved:
        group = np.full(n, -1, dtype=np.int64)
        for number, members in enumerate(rules.approved):
            group[list(members)] = number
        same = (group[found.left] >= 0) & (group[found.left] == group[found.right])
        clamp[same] = 1.0
    if rules.forbidden and found.count:
        keys = found.left.astype(np.int64) * n + found.right
        wanted = np.asarray([i * n + j for i, j in rules.forbidden], dtype=np.int64)
        at = np.searchsorted(keys, wanted)
        hit = at < len(keys)
        at = at[hit][keys[at[hit]] == wanted[hit]]
        clamp[at] = 0.0
    return clamp


class DedupePolicy(Policy):
    """Proposes merges (and merges to review) for duplicate contacts and companies."""

    name = "dedupe"
    decides_merges = True
    #: An incremental run compares again at most this share of the records (those changed,
    #: and those holding a value whose count changed); past it, a full run costs no more.
    incremental_share = 0.5

    def __init__(self, settings: DedupeSettings) -> None:
        self.settings = settings
        self._primary_key = primary_key(settings.primary_rule)
        self._counted: dict[str, int] = {}
        # learning's work, kept for the merge call on the same records (see _Prepared)
        self._prepared: dict[str, _Prepared] = {}
        # what the last run left for the next, per object type (see incremental())
        self._memory: MutableMapping[str, Memory] | None = None
        self._notes: dict[str, str] = {}

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        changes: list[Change] = []
        counted = {"candidates": 0, "scored": 0}
        self._notes = {}
        for object_type in self.settings.object_types:
            analysis, self._notes[object_type] = self._analyse_incremental(snapshot, object_type)
            if analysis is None:
                analysis = self.analyse(snapshot, object_type)
            changes.extend(analysis.merges)
            counted["candidates"] += analysis.candidates.count
            counted["scored"] += analysis.scored
        if self.settings.leads_against_contacts:
            changes.extend(self.leads_duplicating_contacts(snapshot))
        self._counted = counted
        return changes

    def counts(self) -> Mapping[str, int]:
        """The last call's candidate pairs (every object type) and how many of them were
        scored in full (their bound reached ``review_threshold``)."""
        return dict(self._counted)

    def leads_duplicating_contacts(self, snapshot: Snapshot) -> list[Flag]:
        """A finding on each lead that matches a contact at ``review_threshold`` or more (its
        best match named): never a merge, since a lead and a contact are different objects; a
        person converts the lead. Scored as contacts are, blocked together."""
        leads, contacts = snapshot.of("leads"), snapshot.of("contacts")
        if not leads or not contacts:
            return []
        region = self.settings.default_region
        feats = [extract(r, region) for r in (*contacts, *leads)]
        scorer = Scorer(self.settings, "contacts", feats)
        best: dict[int, tuple[float, int]] = {}
        for i, j in candidate_pairs(
            feats, self.settings.contact_blocking, self.settings.max_block_size
        ):
            if feats[i].record.object_type == feats[j].record.object_type:
                continue
            lead, contact = (j, i) if feats[j].record.object_type == "leads" else (i, j)
            confidence = scorer.score(feats[i], feats[j]).confidence
            if confidence < self.settings.review_threshold:
                continue
            known = best.get(lead)
            # the best match; between equals, the smaller contact id
            if known is None or (confidence, id_key(feats[known[1]].id)) > (
                known[0],
                id_key(feats[contact].id),
            ):
                best[lead] = (confidence, contact)
        flags: list[Flag] = []
        for lead, (confidence, contact) in sorted(
            best.items(), key=lambda kv: id_key(feats[kv[0]].id)
        ):
            contact_id = feats[contact].id
            flags.append(
                Flag(
                    source=snapshot.source,
                    object_type="leads",
                    policy=self.name,
                    reason=f"this lead duplicates contact {contact_id} ({confidence:.0%}): "
                    "convert it to that contact rather than keep both (leads and contacts "
                    "are never merged)",
                    record_id=feats[lead].id,
                    field=None,
                    value=contact_id,
                )
            )
        return flags

    def merges(self, snapshot: Snapshot, object_type: str) -> list[Merge]:
        """The merges and reviews for one object type: merges first, each by primary id."""
        return self.analyse(snapshot, object_type).merges

    @property
    def relearn_after(self) -> timedelta:
        """How long stored weights stay frozen (``reestimate_days``)."""
        return timedelta(days=self.settings.reestimate_days)

    def learn(self, snapshot: Snapshot) -> dict[str, dict[str, object]]:
        """The weights this snapshot gives, per object type, as JSON (to store with the plan).

        Object types too small to learn from are left out. Pass the result back as
        ``snapshot.learned["dedupe"]`` to keep the weights frozen until the next estimate.
        """
        fresh = replace(snapshot, learned={})
        out: dict[str, dict[str, object]] = {}
        for object_type in self.settings.object_types:
            model = self.analyse(fresh, object_type, cluster=False).model
            if model is not None:
                ready = self._prepared[object_type]
                counts, present = ready.scorer.population
                frozen_present, values = Frozen.of(counts, present).to_json()
                out[object_type] = {
                    **model.to_json(),
                    PRESENT: frozen_present,
                    VALUES: values,
                    CAP: {"size": ready.found.cap, "records": len(ready.feats)}
                    | self._cap_settings(),
                }
        return out

    def analyse(self, snapshot: Snapshot, object_type: str, *, cluster: bool = True) -> Analysis:
        """Merges of one object type with what blocking and weighting did to find them."""
        records = snapshot.of(object_type)
        ready = self._prepared.pop(object_type, None)
        if ready is None or ready.records is not records:
            ready = self._prepare(records, object_type, self._kept_cap(snapshot, object_type))
        feats, scorer, columns, found = ready.feats, ready.scorer, ready.columns, ready.found
        rules = constraints([f.id for f in feats], snapshot.decisions.get(object_type))
        model = self._stored(snapshot, object_type)
        table: PairTable | Patterns | None = ready.table
        if (
            model is None
            and self.settings.learn_weights
            and len(feats) >= self.settings.min_records
        ):
            table, tally = _tabulated(columns, found, _clamp(found, rules, len(feats)))
            model = self._estimate(object_type, feats=feats, columns=columns, blocked=tally)
        if not cluster:  # learning: the call that follows it on these records starts from here
            self._prepared[object_type] = replace(ready, table=table)
            return Analysis([], found, model, compared=columns.each)
        scorer = scorer.using(model, self._frozen(snapshot, object_type))
        if not isinstance(table, PairTable):  # compared with the frequencies the scores use
            columns = columns.using(scorer)
        scope = _scopes(feats)
        pairs = Pairs(feats, scorer, scope, self._guard(snapshot, object_type))
        left, right = found.left, found.right
        alike: npt.NDArray[np.bool_] | slice = slice(None)  # one scope: every pair (no copies)
        if len(scope) and int(scope.min()) != int(scope.max()):
            alike = scope[left] == scope[right]  # a pair of two merge scopes is no duplicate
            left, right = left[alike], right[alike]
        if model is not None:  # only the pairs whose bound reaches the review threshold
            channel = _channels(feats)

            def reach_of(table: PairTable, left: Indices, right: Indices) -> npt.NDArray[np.bool_]:
                bound = table.bound(
                    model, model.prior, PLACE[object_type], self.settings.place_share
                )
                out = bound >= _logit(self.settings.review_threshold) - BOUND_MARGIN
                # ... and are not two people beyond doubt (held below the threshold)
                out &= ~scorer.apart(table, channel[left] | channel[right])
                out |= scorer.raised(table)  # proposed for review whatever they score
                return out

            if isinstance(table, PairTable):  # tabulated for learning: every candidate pair
                reach = reach_of(table, found.left, found.right)[alike]
            else:  # tabulated now, the pairs of one scope only, a slice at a time
                reach = np.zeros(len(left), dtype=np.bool_)
                if table is not None:  # ... those whose pattern may reach
                    floor = _logit(self.settings.review_threshold) - BOUND_MARGIN
                    place, share = PLACE[object_type], self.settings.place_share
                    may = table.reach(model, scorer, place=place, share=share, floor=floor)
                    maybe = np.flatnonzero(may[alike])
                    del may
                else:
                    maybe = np.arange(len(left))
                for start in range(0, len(maybe), TABLE_ROWS):
                    at = maybe[start : start + TABLE_ROWS]
                    rows = (left[at], right[at])
                    reach[at] = reach_of(columns.tabulate(*rows), *rows)
            del table
            left, right = left[reach], right[reach]
            edges = self._finished(  # best first
                pairs, columns, channel, local=(left, right), left=left, right=right
            )
            # the other pairs of dense components, which clustering asks about: their
            # verdicts column-wise too (never edges: the candidates alone are)
            x, y = dense_pairs(edges, len(feats))
            more = (scope[x] == scope[y]) & ~pairs.known(x, y)
            x, y = x[more], y[more]
            self._finished(pairs, columns, channel, local=(x, y), left=x, right=y)
        else:
            edges = sort_edges(self._edges(left, right, pairs))
        merges = self._cluster(
            snapshot,
            feats,
            rules,
            edges=edges,
            pair=pairs,
            full=pairs.full,
            model=model,
            scorer=pairs.scorer,
        )
        if self._memory is not None:
            self._memory[object_type] = self._remember(
                snapshot, object_type, ready, scorer=scorer, edges=edges, rules=rules, merges=merges
            )
        return Analysis(merges, found, model, len(left), columns.each)

    def _guard(self, snapshot: Snapshot, object_type: str) -> Guard | None:
        return guard_check(self.settings.guards, snapshot, object_type)

    def _finished(
        self,
        pairs: Pairs,
        columns: Columns,
        channel: npt.NDArray[np.bool_],
        *,
        local: tuple[Indices, Indices],
        left: Indices,
        right: Indices,
    ) -> list[Edge]:
        """The pairs ``(left[k], right[k])`` scoring ``review_threshold`` or more, best first
        (:func:`sort_edges`), finished column-wise (``local``: the same pairs as positions in
        ``columns``, ``channel``: per record of ``columns``, whether it has an e-mail, a phone
        or a company); their verdicts kept in ``pairs``."""
        a, b = local
        scorer = pairs.scorer
        columns = columns if columns.scorer is scorer else columns.using(scorer)
        parts = []
        for start in range(0, len(a), TABLE_ROWS):
            x, y = a[start : start + TABLE_ROWS], b[start : start + TABLE_ROWS]
            table = columns.tabulate(x, y, exact=True)
            parts.append(finish_table(scorer, table, channel[x] | channel[y]))
        return pairs.add(left, right, Finished.joined(parts))

    def _edges(
        self, left: npt.NDArray[np.int32], right: npt.NDArray[np.int32], pair: VerdictFunction
    ) -> list[Edge]:
        """The pairs ``(left[k], right[k])`` scoring ``review_threshold`` or more."""
        edges: list[Edge] = []
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            confidence = pair(i, j).confidence
            if confidence >= self.settings.review_threshold:
                edges.append((confidence, i, j))
        return edges

    def _prepare(
        self, records: Sequence[Record], object_type: str, cap: int | None = None
    ) -> _Prepared:
        """Features, columns and candidate pairs of ``records`` (what learning and merging
        both start from); ``cap``: the block size kept with the weights (:data:`CAP`)."""
        region = self.settings.default_region
        feats = sorted((extract(r, region) for r in records), key=lambda f: id_key(f.id))
        scorer = Scorer(self.settings, object_type, feats)
        kinds = (
            self.settings.company_blocking
            if object_type == "companies"
            else self.settings.contact_blocking
        )
        # the keys as strings are kept only for the next incremental run: without one,
        # blocking codes names' keys once per distinct pair of names and holds no strings
        keys = [record_keys(f, kinds) for f in feats] if self._memory is not None else []
        found = candidates(
            feats,
            kinds,
            self.settings.max_block_size,
            self.settings.block_window,
            keys=keys or None,
            max_pairs_per_record=self.settings.max_pairs_per_record,
            cap=cap,
        )
        return _Prepared(records, feats, scorer, Columns(scorer, feats), found, keys)

    @property
    def _merge_at(self) -> float:
        return self.settings.merge_threshold

    def _stored(self, snapshot: Snapshot, object_type: str) -> MatchModel | None:
        """The weights stored with an earlier plan, when they fit the compared fields and
        their levels (weights from before a field was compared, or before it gained a level,
        are learned again)."""
        stored = snapshot.learned.get(self.name, {}).get(object_type)
        if isinstance(stored, Mapping):
            model = MatchModel.from_json(stored)
            if set(model.fields) == set(FIELDS[object_type]) and all(
                len(found.m) == len(CUTS[field]) + 1 for field, found in model.fields.items()
            ):
                return model
        return None

    def _cap_settings(self) -> dict[str, object]:
        """The settings a block cap is worked out from (:data:`CAP`)."""
        return {
            "max_block_size": self.settings.max_block_size,
            "block_window": self.settings.block_window,
            "max_pairs_per_record": self.settings.max_pairs_per_record,
        }

    def _kept_cap(self, snapshot: Snapshot, object_type: str) -> int | None:
        """The block cap stored with the weights (:data:`CAP`), while the records are within
        :data:`CAP_BAND` of the count it was worked out for and the settings are the same;
        else None (worked out afresh)."""
        stored = snapshot.learned.get(self.name, {}).get(object_type)
        kept = stored.get(CAP) if isinstance(stored, Mapping) else None
        if not isinstance(kept, Mapping) or self._stored(snapshot, object_type) is None:
            return None
        size, then = kept.get("size"), kept.get("records")
        if not isinstance(size, int) or not isinstance(then, int) or then <= 0:
            return None
        if any(kept.get(k) != v for k, v in self._cap_settings().items()):
            return None
        now = len(snapshot.of(object_type))
        return size if abs(now - then) <= CAP_BAND * then else None

    def _frozen(self, snapshot: Snapshot, object_type: str) -> Frozen | None:
        """The population counts stored with the weights (None: weights learned before these
        were stored with them)."""
        stored = snapshot.learned.get(self.name, {}).get(object_type)
        if not isinstance(stored, Mapping) or not isinstance(stored.get(PRESENT), Mapping):
            return None
        return Frozen.from_json(stored[PRESENT], stored.get(VALUES))

    def _estimate(
        self,
        object_type: str,
        *,
        feats: Sequence[Features],
        columns: Columns,
        blocked: Tally,
    ) -> MatchModel | None:
        """Weights estimated from this snapshot (None: too little to learn, configured)."""
        rng = random.Random(self.settings.seed)
        n = len(feats)
        total = n * (n - 1) // 2
        scorer = columns.scorer
        drawn = min(self.settings.u_sample_pairs, total)
        left, right = np.empty(drawn, dtype=np.int32), np.empty(drawn, dtype=np.int32)
        for k in range(drawn):
            i, j = rng.randrange(n), rng.randrange(n - 1)
            j += j >= i
            left[k], right[k] = min(i, j), max(i, j)
        sample = columns.tabulate(left, right).levels  # random pairs, compared column-wise
        model = estimate(
            object_type,
            blocked,
            sample=sample,
            exact_u=scorer.exact_u(),
            configured=scorer.configured,
            records=n,
            seed=self.settings.seed,
            min_records=self.settings.min_records,
            min_matches=int(self.settings.min_matches),
        )
        if model is None or object_type != "contacts":
            return model
        return replace(
            model,
            name_pair=_name_pair(feats, model),
            name_place=name_place_share(blocked),
            name_birth=name_birth_share(blocked),
        )

    def _cluster(
        self,
        snapshot: Snapshot,
        feats: Sequence[Features],
        rules: Constraints,
        *,
        edges: list[Edge],
        pair: VerdictFunction,
        full: PairFunction,
        model: MatchModel | None,
        scorer: Scorer,
    ) -> list[Merge]:
        """Two passes of clustering over the edges, as merges and reviews (``pair``: the
        verdict on two records by position, ``full``: their full score, to explain a link,
        ``scorer``: what scored them, to compare two clusters as wholes)."""
        floor = self.settings.cluster_link_floor
        contradiction = self.settings.cluster_contradiction

        def linker(threshold: float) -> Callable[[int, int], bool]:
            """Whether two records may share a cluster built at ``threshold``."""

            def compatible(i: int, j: int) -> bool:
                if not rules.allows(i, j):
                    return False
                score = pair(i, j)
                if score.held and threshold >= self._merge_at:
                    return False
                if score.confidence >= threshold:
                    return True
                if model is not None:  # learned weights already weigh each disagreement
                    # a pair whose fields speak for it more than against, or scoring the floor
                    # (in the review pass, the floor only: reviews stay small enough to read)
                    return not score.conflict and (
                        score.confidence >= floor
                        or (threshold >= self._merge_at and score.evidence_points >= 0)
                    )
                if score.confidence < floor or score.conflict:
                    return False
                return score.least > contradiction

            return compatible

        weights = f" [weights {model.version}, seed {model.seed}]" if model is not None else ""
        run = _Run(snapshot.source, feats, pair, full, model, weights)
        limit = self.settings.max_cluster_size
        merge_at, review_at = self.settings.merge_threshold, self.settings.review_threshold

        def joinable(a: Sequence[int], b: Sequence[int]) -> bool:
            return given_names.apart(feats, a, b) is None

        def rescue(a: Sequence[int], b: Sequence[int], apart: Sequence[tuple[int, int]]) -> bool:
            """Two clusters some of whose pairs across do not agree (a typo'd record in a
            person's many) join when one holds WHOLE_RECORDS records or more, more than half
            the pairs across them agree, none of those that do not is held or kept apart by a
            person, and what most records of each say agrees at merge_threshold
            (:func:`~policies.dedupe.features.consensus`): one odd record cannot keep a
            person's records apart, nor two people's records together."""
            if max(len(a), len(b)) < WHOLE_RECORDS or 2 * len(apart) >= len(a) * len(b):
                return False  # too few records to say what most say; or most pairs disagree
            if any(not rules.allows(x, y) or pair(x, y).held for x, y in apart):
                return False
            whole = scorer.score(consensus([feats[i] for i in a]), consensus([feats[i] for i in b]))
            return not whole.held and not whole.conflict and whole.confidence >= merge_at

        named_apart = self.settings.different_name != "score"
        wholes = self.settings.cluster_wholes and floor < 1.0  # 1.0: strict complete linkage
        clusters = agglomerate(rules.approved, edges, merge_at, linker(merge_at), limit,
                               joinable=joinable if named_apart else None,
                               rescue=rescue if wholes else None)  # fmt: skip
        approved: dict[int, list[Edge]] = {}  # smallest item of a cluster -> approval links
        for joined in rules.approved:
            head = joined[0]
            links = [(pair(head, other).confidence, head, other) for other in joined[1:]]
            holder = next(c for c in clusters if head in c.items)
            approved.setdefault(holder.items[0], []).extend(links)
        clusters = [
            Cluster(c.items, (*approved.get(c.items[0], ()), *c.links), c.wholes) for c in clusters
        ]
        groups = agglomerate(
            [c.items for c in clusters], edges, review_at, linker(review_at), limit
        )

        merges: list[Merge] = []
        primary_of: dict[int, int] = {}  # item -> primary of its cluster (absent: alone)
        filled: dict[int, Mapping[str, str | None]] = {}
        for cluster in clusters:
            primary = min(cluster.items, key=lambda i: self._primary_key(feats[i]))
            primary_of.update(dict.fromkeys(cluster.items, primary))
            others = [i for i in cluster.items if i != primary]
            filled[primary] = self._survivors(feats, primary, others, {})
            merge = self._merge(run, primary, others, cluster.links, filled[primary],
                                review=False)  # fmt: skip
            if cluster.items[0] in approved:
                merge = replace(merge, reason="approved by a person: " + merge.reason)
            for x, y in cluster.wholes:
                odd = f"{feats[x].id} ~ {feats[y].id} ({pair(x, y).confidence:.2f})"
                note = f"; joined as wholes, what most of their records say agreeing: not {odd}"
                merge = replace(merge, reason=merge.reason + note)
            merges.append(merge)
        reviews: list[Merge] = []
        for group in groups:
            heads = sorted({primary_of.get(i, i) for i in group.items})
            if len(heads) < 2:
                continue
            primary = min(heads, key=lambda i: self._primary_key(feats[i]))
            others = [i for i in heads if i != primary]
            donors = [i for i in group.items if i != primary]
            values = self._survivors(feats, primary, donors, filled.get(primary, {}))
            cross = [
                (pair(x, y).confidence, x, y)
                for x, y in combinations(group.items, 2)
                if primary_of.get(x, x) != primary_of.get(y, y)
            ]
            review = self._merge(run, primary, others, group.links, values, review=True)
            weakest = min(cross)
            if weakest[0] < merge_at:
                _, x, y = weakest
                held = f"; not merged automatically: {feats[y].id} ~ {feats[x].id} only "
                review = replace(review, reason=review.reason + held + f"{weakest[0]:.2f}")
            elif named_apart and (names := _named_apart(feats, group.items, primary_of)):
                review = replace(review, reason=review.reason + names)
            reviews.append(review)
        reviews += self._cross_reviews(
            run, rules=rules, edges=edges, groups=groups, primary_of=primary_of, filled=filled
        )
        key = lambda m: id_key(m.primary_id)  # noqa: E731
        return sorted(merges, key=key) + sorted(reviews, key=key)

    def _cross_reviews(
        self,
        run: _Run,
        *,
        rules: Constraints,
        edges: Sequence[Edge],
        groups: Sequence[Cluster],
        primary_of: Mapping[int, int],
        filled: Mapping[int, Mapping[str, str | None]],
    ) -> list[Merge]:
        """A review of two clusters (or records) for each pair across them that scores the
        review threshold when the review pass could not put them in one review: another pair
        across them contradicts. A person sees every such pair, with the pair that held the
        two apart (best first, one review per two clusters, none a person rejected)."""
        feats, pair = run.feats, run.pair
        group_of: dict[int, int] = {}
        for n, group in enumerate(groups):
            group_of.update(dict.fromkeys(group.items, -1 - n))
        members: dict[int, list[int]] = {}
        for item, head in primary_of.items():
            members.setdefault(head, []).append(item)
        seen: set[tuple[int, int]] = set()
        out: list[Merge] = []
        for edge in edges:
            _, i, j = edge
            hi, hj = primary_of.get(i, i), primary_of.get(j, j)
            if group_of.get(i, hi) == group_of.get(j, hj):
                continue
            key = (min(hi, hj), max(hi, hj))
            if key in seen:
                continue
            seen.add(key)
            left, right = members.get(hi, [hi]), members.get(hj, [hj])
            if not all(rules.allows(x, y) for x in left for y in right):
                continue  # a person said two of them are two
            primary, other = sorted(key, key=lambda k: self._primary_key(feats[k]))
            values = self._survivors(feats, primary, [other], filled.get(primary, {}))
            review = self._merge(run, primary, [other], [edge], values, review=True)
            weakest = min((pair(x, y).confidence, x, y) for x in left for y in right)
            _, x, y = weakest
            apart = f"; held apart in clustering: {feats[x].id} ~ {feats[y].id} {weakest[0]:.2f}"
            out.append(replace(review, reason=review.reason + apart))
        return out

    def _merge(
        self,
        run: _Run,
        primary: int,
        others: Sequence[int],
        links: Sequence[Edge],
        values: Mapping[str, str | None],
        *,
        review: bool,
    ) -> Merge:
        """A Merge of ``others`` into ``primary``, explained by the ``links`` that joined them.

        The confidence is the weakest link; the evidence, per field, the weakest similarity
        among the links that field supported.
        """
        feats, full = run.feats, run.full
        evidence: dict[str, float] = {}
        lines = []
        ordered = sorted(links, key=lambda e: (id_key(feats[e[1]].id), id_key(feats[e[2]].id)))
        for _, i, j in ordered:
            score = full(i, j)
            for field, similarity in score.evidence.items():
                evidence[field] = min(similarity, evidence.get(field, similarity))
            lines.append(
                f"{feats[j].id} ~ {feats[i].id} ({score.confidence:.2f}): "
                f"{explain(feats[i], feats[j], score)}"
            )
        confidence = min(value for value, _, _ in links)
        what = "possible duplicates, to review" if review else "duplicates"
        head = f"{what} of {feats[primary].id} (confidence {confidence:.2f}): "
        return Merge(
            source=run.source,
            object_type=feats[primary].record.object_type,
            policy=self.name,
            reason=head + " | ".join(lines) + run.weights,
            primary_id=feats[primary].id,
            merged_ids=tuple(
                feats[i].id for i in sorted(others, key=lambda i: id_key(feats[i].id))
            ),
            confidence=confidence,
            evidence=dict(sorted(evidence.items())),
            field_values=values,
            kind="review" if review else "merge",
            field_baseline={k: feats[primary].record.properties.get(k) for k in values},
        )

    def _survivors(
        self,
        feats: Sequence[Features],
        primary: int,
        donors: Sequence[int],
        already: Mapping[str, str | None],
    ) -> dict[str, str | None]:
        """The values the merged record keeps where they differ from the primary's own.

        Per field, ``survivorship`` (or its ``field_survivorship`` override) decides: the
        primary's value, else the freshest donor's (``primary``); the freshest non-empty value
        of any record (``most_recent``); the longest, ties by recency (``most_complete``).
        """
        own = {**feats[primary].record.properties, **already}

        def recency(i: int) -> tuple[float, tuple[int, int, str]]:
            return (-_utc(feats[i].updated).timestamp(), id_key(feats[i].id))

        ranked = sorted(donors, key=recency)
        everyone = sorted([primary, *donors], key=recency)
        fields = sorted({f for i in donors for f in feats[i].record.properties})
        values: dict[str, str | None] = {}
        for field in fields:
            if field in self.settings.survivorship_exclude or not is_writable(
                feats[primary].record.object_type, field
            ):
                continue
            rule = self.settings.field_survivorship.get(field, self.settings.survivorship)
            if rule == "primary" and not _blank(own.get(field)):
                continue
            candidates = [
                (i, own.get(field) if i == primary else feats[i].record.properties.get(field))
                for i in (ranked if rule == "primary" else everyone)
            ]
            filled = [(i, v) for i, v in candidates if not _blank(v)]
            if not filled:
                continue
            if rule == "most_complete":
                filled.sort(key=lambda item: -len(item[1] or ""))  # stable: recency breaks ties
            value = filled[0][1]
            if value != own.get(field):
                values[field] = value
        return values

    # -- incremental runs (policies.dedupe.incremental) ----------------------------------------

    def incremental(self, memory: MutableMapping[str, Memory]) -> None:
        """Start each object type from what the last run left in ``memory`` and leave this
        run's there (:mod:`policies.dedupe.incremental`): the changes are those a full run
        gives on the same snapshot; only what changed since is compared. ``memory`` is the
        caller's to keep between runs (the engine keeps one per source, in the process); an
        empty or unfitting one makes a full run, which fills it."""
        self._memory = memory

    @property
    def notes(self) -> Mapping[str, str]:
        """Per object type, how the last call ran: incremental (what it compared again) or
        full, and why."""
        return dict(self._notes)

    def _remember(
        self,
        snapshot: Snapshot,
        object_type: str,
        ready: _Prepared,
        *,
        scorer: Scorer,
        edges: Sequence[Edge],
        rules: Constraints,
        merges: Sequence[Merge],
    ) -> Memory:
        """The memory a full run over ``object_type`` leaves."""
        feats = ready.feats
        ids = tuple(f.id for f in feats)
        links = [(ids[i], ids[j]) for _, i, j in edges]
        links += [(ids[g[0]], ids[other]) for g in rules.approved for other in g[1:]]
        component, members = components(ids, links)
        counts, present = scorer.population
        # learning's preparation (before the engine handed over the memory) kept no keys
        keys = ready.keys or [record_keys(f, self._kinds(object_type)) for f in feats]
        return Memory(
            signature=self._signature(snapshot, object_type),
            ids=ids,
            records={f.id: f.record for f in feats},
            feats={f.id: f for f in feats},
            blocks=KeyIndex.build(enumerate(keys)),
            looks=KeyIndex.build((n, looked_up(f)) for n, f in enumerate(feats)),
            counts=counts,
            present=present,
            holders=self._holders(snapshot, object_type),
            edges={(ids[i], ids[j]): c for c, i, j in edges},
            component=component,
            members=members,
            merges=tuple(merges),
            cap=ready.found.cap,
        )

    def _signature(self, snapshot: Snapshot, object_type: str) -> tuple[str, str, str]:
        stored = snapshot.learned.get(self.name, {}).get(object_type)
        return signature(
            self.settings.model_dump_json(),
            stored if isinstance(stored, Mapping) else None,
            snapshot.decisions.get(object_type),
        )

    def _holders(self, snapshot: Snapshot, object_type: str) -> frozenset[str]:
        if not self.settings.guards.both_open_deals:
            return frozenset()
        return open_deal_holders(snapshot, object_type)

    def _analyse_incremental(
        self, snapshot: Snapshot, object_type: str
    ) -> tuple[Analysis | None, str]:
        """The analysis of ``object_type`` started from the memory, or None and why not."""
        memory = None if self._memory is None else self._memory.get(object_type)
        if memory is None:
            return None, "full: no earlier run in memory"
        records = snapshot.of(object_type)
        model = self._stored(snapshot, object_type)
        if (
            model is None
            and self.settings.learn_weights
            and len(records) >= self.settings.min_records
        ):
            return None, "full: the weights are estimated in this run"
        now = self._signature(snapshot, object_type)
        differ = [what for what, a, b in zip(SIGNED, now, memory.signature, strict=True) if a != b]
        if differ:
            return None, f"full: the {' and the '.join(differ)} changed"
        region, kinds = self.settings.default_region, self._kinds(object_type)
        by_id: dict[str, Features] = {}
        touched: set[str] = set()
        for record in records:
            old = memory.records.get(record.id)
            if old is not None and (old is record or old == record):
                by_id[record.id] = memory.feats[record.id]
            else:
                by_id[record.id] = extract(record, region)
                touched.add(record.id)
        gone = [i for i in memory.ids if i not in by_id]
        if 2 * (len(touched) + len(gone)) > len(by_id):
            return None, f"full: {len(touched) + len(gone)} of {len(by_id)} records changed"
        was = [memory.feats[i] for i in (*touched, *gone) if i in memory.feats]
        counts, present, changed = count_changes(memory, was, [by_id[i] for i in touched])
        frozen = self._frozen(snapshot, object_type)
        # the frequencies' denominators: unless frozen with the weights, the records having
        # each field now (without weights, only a company name's words are weighed so)
        every = {*present, *memory.present} if model is not None else {"name"}
        fields = sorted(f for f in every if present[f] != memory.present[f])
        if model is None and max(present["name"], memory.present["name"]) < MIN_NAMES_FOR_RARITY:
            fields = []  # too few names for their words to be weighed
        if (frozen is None or model is None) and fields:
            return None, f"full: the records having {', '.join(fields)} changed in number"
        ids = tuple(sorted(by_id, key=id_key))
        position = {record_id: n for n, record_id in enumerate(ids)}
        feats = [by_id[i] for i in ids]
        old_ids = memory.ids

        # dirty: unchanged records whose scores consult a count that changed, or the guard
        # (a value both records of a pair must hold, such as a term-frequency value, weighs
        # only the pairs of its holders: those pairs are scored again, not all of theirs)
        scorer = Scorer.counted(self.settings, object_type, counts, present)
        scorer = scorer.using(model, frozen)
        affected = set(touched)
        groups: list[set[str]] = []
        for key in changed:
            if not scorer.weighs_change(key, memory.counts.get(key, 0), counts.get(key, 0)):
                continue
            # a mailbox's holders by name decide whether it is shared, a line's by site how
            # common it is: their pairs are the mailbox's or the line's holders'
            looked = key
            if key.startswith(f"{MAILBOX}="):
                looked = mailbox_of(key)
            elif key.startswith(f"{SITE}="):
                looked = site_of(key)
            held = {old_ids[p] for p in memory.looks.holders(looked).tolist()}
            held = {i for i in held if i in by_id and i not in touched}
            if not both_sided(key):
                affected |= held
            elif len(held) > 1:
                groups.append(held)
        affected.update(self._holders(snapshot, object_type) ^ memory.holders)
        affected.intersection_update(by_id)
        work = len(affected) + sum(len(held) for held in groups)
        if work > self.incremental_share * len(by_id):  # as costly as a full run
            return None, (
                f"full: {work} of {len(by_id)} records to compare again (values many records "
                "hold changed their counts)"
            )
        group_of: dict[str, set[int]] = {}
        for number, held in enumerate(groups):
            for record_id in held:
                group_of.setdefault(record_id, set()).add(number)

        # the key index moved to this run's positions; blocks the touched enter or leave
        remap = np.asarray(
            [-1 if i in touched else position.get(i, -1) for i in old_ids], dtype=np.int32
        )
        new_keys = {i: record_keys(by_id[i], kinds) for i in touched}
        blocks = memory.blocks.moved(remap, ((position[i], k) for i, k in new_keys.items()))
        moved_keys: set[str] = set()
        for f in was:
            moved_keys |= record_keys(f, kinds)
        for held in new_keys.values():
            moved_keys |= held
        limit = self._kept_cap(snapshot, object_type) or self._cap(blocks, len(ids))
        window = self.settings.block_window
        if limit != memory.cap:  # blocks once whole are split now, or the other way round
            return None, f"full: blocks are split past {limit} records now, {memory.cap} before"
        ordered: dict[str, list[int]] = {}
        headed: dict[str, tuple[list[int], dict[int, int]]] = {}
        holding: dict[str, list[int]] = {}  # the records holding a key now, as asked

        def holders(key: str) -> list[int]:
            found = holding.get(key)
            if found is None:
                found = holding[key] = blocks.holders(key).tolist()
            return found

        # each record's place in window order and its value there, by position now and before
        order_now: dict[int, tuple[str, ...]] = {}
        order_was: dict[int, tuple[str, ...]] = {}

        def order_of(p: int) -> tuple[str, ...]:
            found = order_now.get(p)
            if found is None:
                found = order_now[p] = window_order(feats[p])
            return found

        def was_order(p: int) -> tuple[str, ...]:
            found = order_was.get(p)
            if found is None:
                found = order_was[p] = window_order(memory.feats[old_ids[p]])
            return found

        def line_of(key: str, whole: list[int]) -> list[int]:
            """A split block's members in sorted-neighbourhood order."""
            if key not in ordered:
                ordered[key] = sorted(whole, key=order_of)
            return ordered[key]

        def value_of(p: int) -> tuple[str, ...]:
            return order_of(p)[:-1]  # window_value

        def was_value(p: int) -> tuple[str, ...]:
            return was_order(p)[:-1]

        def heads_of(key: str, whole: list[int]) -> tuple[list[int], dict[int, int]]:
            """A split block's values' first members, in order and by their place."""
            if key not in headed:
                heads = value_heads(line_of(key, whole), value_of)
                headed[key] = heads, {p: n for n, p in enumerate(heads)}
            return headed[key]

        for key in moved_keys:
            before, after = memory.blocks.holders(key).tolist(), holders(key)
            if max(len(before), len(after)) <= limit:
                continue
            if min(len(before), len(after)) <= limit:  # split now or no longer: all its pairs
                affected.update(old_ids[p] for p in before if old_ids[p] in by_id)
                affected.update(ids[p] for p in after)
                continue
            # still split: its windows moved around the members that entered, left or moved,
            # and the windows of values around their values
            was_line = sorted(before, key=was_order)
            departed = [p for p in before if old_ids[p] in touched or old_ids[p] not in by_id]
            entered = [p for p in after if ids[p] in touched]
            moved_values = {was_value(p) for p in departed} | {value_of(p) for p in entered}
            for p in window_neighbours(was_line, departed, window) | head_neighbours(
                was_line, was_value, moved_values, window
            ):
                if old_ids[p] in by_id:
                    affected.add(old_ids[p])
            line = line_of(key, after)
            around = window_neighbours(line, entered, window)
            around |= head_neighbours(line, value_of, moved_values, window)
            affected.update(ids[p] for p in around)
        work = len(affected) + sum(len(held) for held in groups)
        if work > self.incremental_share * len(by_id):
            return None, f"full: {work} of {len(by_id)} records to compare again (split blocks)"

        # every candidate pair with an affected record
        lefts: list[int] = []
        rights: list[int] = []

        for record_id in sorted(affected, key=id_key):
            here = position[record_id]
            for key in new_keys.get(record_id) or record_keys(by_id[record_id], kinds):
                block = holders(key)
                if len(block) > limit:
                    line = line_of(key, block)
                    at = line.index(here)
                    heads, nth = heads_of(key, block)
                    block = line[max(0, at - window) : at + window + 1]
                    if here in nth:  # the first of its value: the values' window
                        block = block + heads[max(0, nth[here] - window) : nth[here] + window + 1]
                lefts += [here] * len(block)
                rights += block
        keys_of: dict[str, set[str]] = {}
        for held in groups:  # the pairs among the holders of one changed value
            by_key: dict[str, list[int]] = {}
            for record_id in held - affected:
                if record_id not in keys_of:
                    keys_of[record_id] = record_keys(by_id[record_id], kinds)
                for key in keys_of[record_id]:
                    by_key.setdefault(key, []).append(position[record_id])
            for key, sharing in by_key.items():
                if len(sharing) < 2:
                    continue
                whole = holders(key)
                if len(whole) > limit:
                    rank = {p: n for n, p in enumerate(line_of(key, whole))}
                    _, nth = heads_of(key, whole)
                    near = [
                        (p, q)
                        for p in sharing
                        for q in sharing
                        if abs(rank[p] - rank[q]) <= window
                        or (p in nth and q in nth and abs(nth[p] - nth[q]) <= window)
                    ]
                else:
                    near = [(p, q) for p in sharing for q in sharing]
                lefts += [p for p, _ in near]
                rights += [q for _, q in near]
        a = np.asarray(lefts, dtype=np.int32)
        b = np.asarray(rights, dtype=np.int32)
        a, b = a[a != b], b[a != b]
        left, right = unique_pairs(a, b, len(ids))
        found = Candidates(left, right, 0, 0)

        # scored as the full run scores them: column-wise, the bound, finished column-wise
        scope = _scopes(feats)
        pairs = Pairs(feats, scorer, scope, self._guard(snapshot, object_type))
        alike = scope[left] == scope[right]
        left, right = left[alike], right[alike]
        compared = 0
        if model is not None and len(left):
            sub, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
            sub_feats = [feats[p] for p in sub.tolist()]
            columns = Columns(scorer, sub_feats)
            a = inverse[: len(left)].astype(np.int32)
            b = inverse[len(left) :].astype(np.int32)
            table = columns.tabulate(a, b)
            bound = table.bound(model, model.prior, PLACE[object_type], self.settings.place_share)
            reach = bound >= _logit(self.settings.review_threshold) - BOUND_MARGIN
            reach |= scorer.raised(table)  # proposed for review whatever they score
            left, right = left[reach], right[reach]
            channel = _channels(sub_feats)
            local = (a[reach], b[reach])
            fresh = self._finished(pairs, columns, channel, local=local, left=left, right=right)
            compared = columns.each
        else:
            fresh = self._edges(left, right, pairs)
        out = affected.union(gone)

        def scored_again(x: str, y: str) -> bool:
            return (
                x in out or y in out or not group_of.get(x, set()).isdisjoint(group_of.get(y, ()))
            )

        edges: dict[tuple[str, str], float] = {}
        changed_ends = set(out)  # records with an edge dropped, added or scored again
        for (x, y), confidence in memory.edges.items():
            if scored_again(x, y):
                changed_ends.update((x, y))
            else:
                edges[(x, y)] = confidence
        for confidence, i, j in fresh:
            edges[(ids[i], ids[j])] = confidence
            changed_ends.update((ids[i], ids[j]))

        # components: those with a changed record or edge, or where two records hold one
        # changed value (a pair's score inside may differ), are clustered again
        decided = snapshot.decisions.get(object_type) or {}
        named = sorted({i for group in decided for i in group if i in by_id}, key=id_key)
        rules = constraints(named, decided)  # over the records decisions name: for the links
        links = list(edges)
        links += [(named[g[0]], named[other]) for g in rules.approved for other in g[1:]]
        component, members = components(ids, links)
        for where in (memory.component, component):
            for held in groups:
                seen = Counter(where[i] for i in held if i in where)
                changed_ends.update(i for i in held if seen[where.get(i, -1)] > 1)
        seeds = {i for i in changed_ends if i in by_id}
        for record_id in changed_ends:
            was_in = memory.component.get(record_id)
            if was_in is not None:
                seeds.update(i for i in memory.members[was_in] if i in by_id)
        again = set(seeds)
        for now_in in {component[i] for i in seeds if i in component}:
            again.update(members[now_in])
        kept = [  # merges of components untouched: every record still here, none again
            m
            for m in memory.merges
            if all(i in by_id and i not in again for i in (m.primary_id, *m.merged_ids))
        ]
        mine = sorted((position[i] for i in again), key=int)
        place_of = {p: n for n, p in enumerate(mine)}
        sub_feats = [feats[p] for p in mine]
        sub_edges = sort_edges(
            (c, place_of[position[x]], place_of[position[y]])
            for (x, y), c in edges.items()
            if x in again
        )
        sub_rules = constraints([f.id for f in sub_feats], snapshot.decisions.get(object_type))

        def sub_pair(i: int, j: int) -> Verdict:
            return pairs(mine[i], mine[j])

        def sub_full(i: int, j: int) -> PairScore:
            return pairs.full(mine[i], mine[j])

        redone = self._cluster(
            snapshot,
            sub_feats,
            sub_rules,
            edges=sub_edges,
            pair=sub_pair,
            full=sub_full,
            model=model,
            scorer=pairs.scorer,
        )
        merges = sorted([*kept, *redone], key=lambda m: (m.kind != "merge", id_key(m.primary_id)))
        self._memory[object_type] = Memory(  # type: ignore[index]
            signature=memory.signature,
            ids=ids,
            records={f.id: f.record for f in feats},
            feats=by_id,
            blocks=blocks,
            looks=memory.looks.moved(
                remap, ((position[i], looked_up(by_id[i])) for i in sorted(touched))
            ),
            counts=counts,
            present=present,
            holders=self._holders(snapshot, object_type),
            edges=edges,
            component=component,
            members=members,
            merges=tuple(merges),
            cap=limit,
        )
        said = (
            f"incremental: {len(touched)} records changed, {len(gone)} gone, "
            f"{len(affected)} compared again ({found.count} pairs), "
            f"{len(again)} clustered again, {len(kept)} merges kept"
        )
        return Analysis(merges, found, model, len(left), compared), said

    def _cap(self, blocks: KeyIndex, records: int) -> int:
        """The size past which a full run over these blocks splits them."""
        budget = self.settings.max_pairs_per_record
        if budget is None:
            return self.settings.max_block_size
        sizes = blocks.block_sizes(records)
        return block_cap(sizes, self.settings.max_block_size, self.settings.block_window,
                         budget * records)  # fmt: skip

    def _kinds(self, object_type: str) -> tuple[str, ...]:
        return tuple(
            self.settings.company_blocking
            if object_type == "companies"
            else self.settings.contact_blocking
        )
