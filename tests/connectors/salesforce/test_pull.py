"""Pulling from the Salesforce sandbox through the real SDK: every object type, canonical names,
pages, the lookback, deletions from the log or the recycle bin, Bulk API 2.0."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from model.fields import FALSE, TASK_COMPLETED, TASK_OPEN, TRUE, field_names
from model.records import Cursor
from tests.connectors.salesforce.world import World


def test_every_object_type_pulls_with_canonical_names_and_decided_values(world: World) -> None:
    state = world.state
    account = state.create(
        "Account", {"Name": "Acme", "Website": "acme.com", "Industry": "Banking"}
    )
    contact = world.contact(firstname="Ann", email="ann@acme.com", city="Lyon")
    state.update("Contact", contact, {"AccountId": account})
    lead = state.create(
        "Lead", {"LastName": "Ray", "Company": "Ray Co", "Status": "Working - Contacted"}
    )
    closed = state.create(
        "Lead", {"LastName": "Zed", "Company": "Z", "Status": "Closed - Not Converted"}
    )
    converted = state.create(
        "Lead",
        {"LastName": "Cy", "Company": "C", "Status": "Closed - Converted", "IsConverted": True},
    )
    won = state.create(
        "Opportunity",
        {"Name": "Big", "StageName": "Closed Won", "CloseDate": "2024-05-08", "Amount": 1200.0,
         "AccountId": account},
    )  # fmt: skip
    done = state.create(
        "Task",
        {"Subject": "Call", "Status": "Completed", "WhoId": contact, "ActivityDate": "2024-05-08"},
    )
    todo = state.create("Task", {"Subject": "Mail", "Status": "In Progress", "WhatId": won})
    gone = state.add_user("Old", "Timer", "old@acme.com", active=False)
    world.clock.tick(minutes=5)
    connector = world.connector()

    pulled = {t: world.pull(connector, t).by_id for t in connector.object_types}

    for object_type, records in pulled.items():
        canonical = set(field_names(object_type))
        for record in records.values():
            assert set(record.properties) <= canonical, (object_type, record.properties)
    assert pulled["contacts"][contact].associations == {"companies": (account,)}
    assert pulled["contacts"][contact].properties["city"] == "Lyon"
    assert pulled["leads"][lead].properties["lead_open"] == TRUE
    assert pulled["leads"][closed].properties["lead_open"] == FALSE
    assert pulled["leads"][converted].archived, "a converted lead lives on as its contact"
    deal = pulled["deals"][won].properties
    assert (deal["stage"], deal["is_closed"], deal["is_won"]) == ("Closed Won", TRUE, TRUE)
    assert (deal["amount"], deal["closedate"]) == ("1200", "2024-05-08T00:00:00.000Z")
    assert pulled["companies"][account].properties["industry"] == "Banking"
    assert pulled["tasks"][done].properties["status"] == TASK_COMPLETED
    assert pulled["tasks"][done].associations["contacts"] == (contact,)
    assert pulled["tasks"][todo].properties["status"] == TASK_OPEN
    assert pulled["tasks"][todo].associations["deals"] == (won,)
    assert pulled["owners"][gone].archived, "an inactive user"
    assert pulled["owners"][gone].properties["user_id"] == gone


def test_a_custom_field_maps_by_its_canonical_name(world: World) -> None:
    contact = world.contact(firstname="Ann")
    world.state.update("Contact", contact, {"Tags__c": "vip;newsletter"})

    plain = world.pull(world.connector(), "contacts").by_id[contact]
    tagged = world.pull(world.connector(fields={"contacts": {"Tags__c": "tags"}}), "contacts")

    assert "tags" not in plain.properties
    assert tagged.by_id[contact].properties["tags"] == "vip;newsletter"


def test_a_field_hidden_from_syncds_user_is_unknown_not_empty(world: World) -> None:
    contact = world.contact(firstname="Ann", jobtitle="CEO")
    world.state.hidden_fields.add(("Contact", "Title"))
    connector = world.connector()

    record = world.pull(connector, "contacts").by_id[contact]
    (refused,) = connector.update("contacts", [_write("k", contact, jobtitle="CTO")])

    assert "jobtitle" not in record.properties, "absent: unknown, never None"
    assert record.properties["firstname"] == "Ann"
    assert not refused.ok
    assert refused.fields == ("jobtitle",)
    assert connector.calls["collections"] == 0, "refused before sending"


def test_pages_follow_next_records_url_and_each_batch_moves_the_cursor(world: World) -> None:
    made = [world.contact(firstname=f"P{i}") for i in range(450)]
    for i, record_id in enumerate(made):  # spread their SystemModstamps over 450 seconds
        world.clock.tick(seconds=1)
        world.state.update("Contact", record_id, {"Title": str(i)})
    world.clock.tick(minutes=1)
    connector = world.connector(query_batch_size=200)

    pulled = world.pull(connector, "contacts")

    assert connector.calls["query_more"] == 2, "450 records in pages of 200"
    assert Counter(r.id for r in pulled.records) == Counter(made)
    cursors = [b.cursor.updated_at for b in pulled.batches if b.records and b.cursor.updated_at]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) >= 3, "each page moves it on"
    assert pulled.cursor.updated_at == world.clock.now


def test_a_late_commit_is_read_again_within_the_lookback(world: World) -> None:
    early, late = world.contact(firstname="Early"), world.contact(firstname="Late")
    world.clock.tick(hours=1)
    first_run = world.clock.now
    with_lookback = world.connector(lookback_seconds=300)
    without = world.connector(lookback_seconds=0)
    cursor = world.pull(with_lookback, "contacts").cursor
    world.clock.tick(minutes=1)
    # a transaction stamps "late" now but commits two minutes later; "early" commits at once
    world.state.update("Contact", late, {"MailingCity": "Oslo"}, commits_after=timedelta(minutes=2))
    world.clock.tick(seconds=30)
    world.state.update("Contact", early, {"MailingCity": "Rome"})
    world.clock.tick(seconds=30)
    second = world.pull(with_lookback, "contacts", cursor)
    assert set(second.by_id) == {early}, "the late one is not committed yet"
    world.clock.tick(minutes=3)

    third = world.pull(with_lookback, "contacts", second.cursor)
    missed = world.pull(without, "contacts", second.cursor)

    assert second.cursor.updated_at is not None
    assert second.cursor.updated_at > first_run
    assert third.by_id[late].properties["city"] == "Oslo"
    assert late not in missed.by_id, "without the lookback the late commit is lost"


def test_a_cursor_never_passes_the_run_start(world: World) -> None:
    world.contact(firstname="Ann")
    run_started_at = world.clock.now
    world.clock.tick(minutes=2)
    world.contact(firstname="After the start")  # modified after the run began

    pulled = world.pull(world.connector(), "contacts", run_started_at=run_started_at)

    assert len(pulled.by_id) == 2
    assert all(
        b.cursor.updated_at is None or b.cursor.updated_at <= run_started_at for b in pulled.batches
    )


def test_deletions_come_from_the_log_within_fifteen_days(world: World) -> None:
    kept, deleted = world.contact(firstname="Kept"), world.contact(firstname="Gone")
    connector = world.connector()
    world.clock.tick(hours=1)
    cursor = world.pull(connector, "contacts").cursor
    world.clock.tick(days=3)
    world.state.delete("Contact", deleted)
    world.clock.tick(minutes=2)

    pulled = world.pull(connector, "contacts", cursor)

    assert connector.calls["deleted"] == 1
    assert pulled.by_id[deleted].archived
    assert kept not in pulled.by_id


def test_a_source_down_longer_than_the_log_reconciles_through_query_all(world: World) -> None:
    merged, master, deleted = (world.contact(firstname=n) for n in ("M", "Master", "D"))
    connector = world.connector()
    world.clock.tick(hours=1)
    cursor = world.pull(connector, "contacts").cursor
    world.clock.tick(days=20)
    world.state.merge("Contact", master, [merged])
    world.state.delete("Contact", deleted)
    world.clock.tick(days=1)

    pulled = world.pull(connector, "contacts", cursor)

    assert connector.calls["deleted"] == 0, "the log does not reach 21 days back"
    assert pulled.by_id[deleted].archived
    assert pulled.by_id[merged].merged_into == master
    assert merged in pulled.by_id[master].merged_ids


def test_deletions_purged_from_the_recycle_bin_leave_the_live_ids_to_tell(
    world: World,
) -> None:
    purged, binned, kept = (world.contact(firstname=n) for n in ("P", "B", "K"))
    connector = world.connector()
    world.clock.tick(hours=1)
    cursor = world.pull(connector, "contacts").cursor
    world.clock.tick(days=1)
    world.state.delete("Contact", purged)
    world.clock.tick(days=12)
    world.state.delete("Contact", binned)
    world.clock.tick(days=7)  # 20 days down: the first deletion was purged 4 days ago
    created = world.contact(firstname="New")

    pulled = world.pull(connector, "contacts", cursor)

    assert purged not in pulled.by_id, "the bin no longer holds it"
    assert pulled.by_id[binned].archived
    [listing] = [b for b in pulled.batches if b.live_ids is not None]
    assert listing.live_ids == {kept, created}
    assert pulled.batches.index(listing) > 0, "after the bin's records"
    assert listing.cursor.updated_at is not None
    assert listing.cursor.updated_at <= world.clock.now


def test_a_big_first_pull_goes_through_bulk_api_2(world: World) -> None:
    made = {world.contact(firstname=f"B{i}", email=f"b{i}@x.com") for i in range(30)}
    world.state.delete("Contact", next(iter(sorted(made))))
    world.clock.tick(minutes=1)
    rest = world.pull(world.connector(), "contacts")
    bulk_connector = world.connector(bulk_threshold=10)

    bulk = world.pull(bulk_connector, "contacts")

    assert bulk_connector.calls["bulk"] >= 3, "job, status, results"
    assert {k: v.properties for k, v in bulk.by_id.items()} == {
        k: v.properties for k, v in rest.by_id.items()
    }
    assert {k for k, v in bulk.by_id.items() if v.archived} == {min(made)}


def test_the_queries_sent_are_the_documented_ones(world: World) -> None:
    world.contact(firstname="Ann")
    world.state.record_exchanges = True
    connector = world.connector(lookback_seconds=120)
    cursor = Cursor(world.clock.now)
    world.clock.tick(minutes=10)

    world.pull(connector, "contacts", cursor)

    queries = [e.query["q"][0] for e in world.state.request_log if "q" in e.query]
    start = (cursor.updated_at - timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(
        q.endswith(f"FROM Contact WHERE SystemModstamp >= {start} ORDER BY SystemModstamp, Id")
        for q in queries
    ), queries
    paths = [e.path for e in world.state.request_log]
    assert "/services/data/v59.0/sobjects/Contact/deleted/" in paths
    assert all(
        e.headers.get("Authorization", "").startswith("Bearer ")
        for e in world.state.request_log
        if e.path.startswith("/services/data/")
    )


def _write(key: str, record_id: str, **fields: str | None) -> object:
    from model.writes import FieldWrite

    return FieldWrite(key, record_id, fields)


def test_the_completeness_audit_can_count_and_list_deletions(world: World) -> None:
    start = world.clock.now
    kept = [world.contact(firstname=f"K{i}") for i in range(3)]
    gone = world.contact(firstname="Gone")
    world.clock.tick(minutes=1)
    world.state.delete("Contact", gone)
    world.clock.tick(minutes=1)
    connector = world.connector()

    assert connector.count("contacts", start, world.clock.now) == len(kept)
    assert connector.count("contacts", world.clock.now, world.clock.now) == 0
    assert connector.archived_ids("contacts", world.clock.now) == {gone}
    assert connector.count("owners", start, world.clock.now) is None
