"""E-mails one typo apart: one mailbox mistyped, not two mailboxes.

Two addresses at one domain whose local parts are one edit apart (a letter in, out, replaced,
two swapped: ``maisie.walsh`` ~ ``maiie.walsh``), or with one local part and domains one edit
apart (``myers.com`` ~ ``myer7s.com``), agree at a level of their own (below the exact one),
with learned weights of their own; they are no "two mailboxes at one domain", which holds a pair
for review. Two people's mailboxes stay two: another first letter (``bill`` ~ ``will``: a father
and his son), more than one edit (``william`` ~ ``will``, ``l.mercier`` ~ ``lea.mercier``),
separators or digits only (``ying.gao`` ~ ``yinggao``, ``mchoi86`` ~ ``mchoi65``: namesakes'
mailboxes made from their names at a free-mail provider), or a difference where their holders'
names differ (``francesco.bianchi`` ~ ``francesca.bianchi``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from model.changes import Merge, Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.explain import explain
from policies.dedupe.features import extract
from policies.dedupe.scoring import EMAIL_NEAR, TWO_MAILBOXES, Scorer, email_similarity
from policies.dedupe.weights import level

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("maisie.walsh@hodge.com", "maiie.walsh@hodge.com", True),  # a letter out
        ("maisie.walsh@hodge.com", "maisie.wlash@hodge.com", True),  # two swapped
        ("maisie.walsh@hodge.com", "maiie.walsoh@hodge.com", False),  # two typos: too far
        ("go94@bradshaw.com", "geo94@bradshaw.com", True),
        ("maryam.j47@myers.com", "maryam.j47@myer7s.com", True),  # the domain mistyped
        ("jbrooks@hall-lowery.net", "jbrooks@hall-lowe-ry.net", True),
        ("bill.foster@fostersons.com", "will.foster@fostersons.com", False),  # another initial
        ("jsmith@acme.com", "ksmith@acme.com", False),
        ("william.foster@fosterlaw.com", "will.foster@fosterlaw.com", False),  # three letters
        ("ab@acme.com", "ac@acme.com", False),  # one letter of two: too short to tell
        ("john@gmail.com", "john@yahoo.com", False),  # two providers, not a typo
        ("ying.gao@hotmail.com", "yinggao@hotmail.com", False),  # two namesakes' as often
        ("mchoi86@gmail.com", "mchoi65@gmail.com", False),  # numbered: two accounts
        ("francesco.bruno59@yahoo.com", "francesco.bruno@yahoo.com", False),
        ("l.mercier@aeromint.fr", "lea.mercier@aeromint.fr", False),  # two letters: a style
        ("anna@acme.com", "bob@other.org", False),
    ],
)
def test_two_addresses_one_typo_apart(a: str, b: str, near: bool) -> None:
    similarity = email_similarity([a], [b])
    assert (similarity >= EMAIL_NEAR) is near
    assert level("email", similarity) == (1 if near else 0)
    assert email_similarity([a, "x@y.org"], ["z@w.org", b]) == similarity  # any pair of the lists
    assert email_similarity([a], [a]) == 1.0


def test_mailboxes_that_differ_as_their_holders_names_do_are_two() -> None:
    francesco, francesca = ("francesco", "bianchi"), ("francesca", "bianchi")
    pair = (["francesco.bianchi@gmail.com"], ["francesca.bianchi@gmail.com"])
    assert email_similarity(*pair, (francesco, francesca)) == 0.0
    assert email_similarity(*pair, (francesco, francesco)) >= EMAIL_NEAR  # one mistyped
    typo = (["maisie.walsh@hodge.com"], ["maisie.walssh@hodge.com"])
    assert email_similarity(*typo, (("miaisie", "walsh"), ("maisie", "walsh"))) >= EMAIL_NEAR


def _contact(n: int, email: str, **props: str) -> Record:
    base = {"firstname": "Maisie", "lastname": "Walsh", "city": "Birmingham", "email": email}
    return Record("contacts", str(n), {**base, **props}, NOW, created_at=NOW)


def test_a_mistyped_mailbox_is_no_second_mailbox() -> None:
    feats = [extract(_contact(1, "maisie.walsh@hodge.com"), "US"),
             extract(_contact(2, "maisie.walssh@hodge.com"), "US"),
             extract(_contact(3, "daisie.walsh@hodge.com", firstname="Daisie"), "US")]  # fmt: skip
    scorer = Scorer(DedupeSettings(), "contacts", feats)
    typo = scorer.score(feats[0], feats[1])
    assert TWO_MAILBOXES not in typo.held
    assert typo.points["email"] > 0
    assert "(0.96: a typo)" in explain(feats[0], feats[1], typo)
    two = scorer.compare(feats[0], feats[2])
    assert two.two_mailboxes
    assert two.similarities["email"] == 0.0


def test_a_mistyped_mailbox_merges_where_two_mailboxes_go_to_review() -> None:
    records = [
        _contact(1, "maisie.walsh@hodge.com", phone="+44 121 496 0000"),
        _contact(2, "maisie.walssh@hodge.com", phone="+44 121 496 0000"),
        _contact(3, "mwalsh@hodge.com", phone="+44 121 496 0000"),
    ]
    changes = DedupePolicy(DedupeSettings())(Snapshot("s", NOW, {"contacts": records}))
    merges = [c for c in changes if isinstance(c, Merge)]
    merged = {(m.primary_id, *m.merged_ids): m.kind for m in merges}
    assert merged.get(("1", "2")) == "merge", merged
    assert any(m.kind == "review" and "3" in (m.primary_id, *m.merged_ids) for m in merges)
