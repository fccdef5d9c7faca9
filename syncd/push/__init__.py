"""Push: apply a saved plan to the CRM exactly once, through the outbox.

1. **Expand** each plan change into outbox operations with idempotency keys
   (``<plan>:<seq>:<op>``) and write them all before anything is sent. A merge becomes a write
   of the survivor's chosen values to the primary (op 0), and one merge call per absorbed record.
2. **Order**: merges first, then field writes (updates and survivor values), then tasks, then
   archives. A value a record takes from its duplicate (the clean e-mail the duplicate holds)
   can only be written once the duplicate is merged: the CRM keeps some fields unique. A
   cluster of several records is merged one record at a time, each step into the survivor the
   step before gave (a CRM may give every merge's survivor a new id: HubSpot does for
   contacts and companies); its field writes and tasks then go to the last survivor. A
   merge's survivor values are written only when every merge of it applied (a merge held or
   skipped leaves them unwritten, with the reason; one that failed and may be retried leaves
   them failed too, so applying the plan again does both). After the merges the survivors are
   read again, with their associations, and the state store is refreshed (absorbed records
   marked merged), so the next plan sees what the merge did before any pull.
3. **Check** just before writing: one batch read of the records' current values. A field whose
   current value differs from the plan's baseline (``old``) was changed by a person meanwhile: a
   *conflict*, resolved by the strategy (``crm-wins`` skips the field, ``syncd-wins`` writes
   anyway, ``review`` holds it). On a record this plan merged, the absorbed records' values of
   when the plan was made are not a person's edit either (the CRM may carry them over in the
   merge); when the CRM gave the survivor a new id, the write goes to it. A record deleted or
   merged away since the plan otherwise is skipped. A field that already holds the new value
   counts as applied (a resumed push after a crash). A CRM that still refuses a value as a
   conflict (another record holds it) gets it skipped, with the reason, for a person.
4. **Send** in the vendor's batches; record every result, and the audit entry of every applied
   write, in one transaction per batch.

Every step reads the outbox first and skips what is final, so running a push again, after a crash
at any point, sends only what is left: updates are checked against the CRM, a task is looked up
by its marker and by the record's open tasks, a merge by whether the absorbed id already resolves
to the survivor. What an interrupted push wrote without recording it (an op left ``sending``
whose value, task or merge is found in the CRM) is recorded then, with its audit entry, once.

The steps live in one module each: :mod:`~syncd.push.outbox` (plan → operations and keys),
:mod:`~syncd.push.conflicts` (the pure per-field decision), :mod:`~syncd.push.batches` (grouping
into the vendor's batches), :mod:`~syncd.push.merges`, :mod:`~syncd.push.updates`,
:mod:`~syncd.push.tasks` and :mod:`~syncd.push.archives` (sending per change kind),
:mod:`~syncd.push.audit` (what is recorded, under the lease), :mod:`~syncd.push.report` and
:mod:`~syncd.push.pusher` (the steps in order).
"""

from __future__ import annotations

from syncd.push.outbox import expand
from syncd.push.pusher import Pusher
from syncd.push.report import PushReport

__all__ = ["PushReport", "Pusher", "expand"]
