"""Writer.field_changes on Salesforce: who set a field's current value, from field history."""

from __future__ import annotations

from urllib.parse import quote_plus

from connectors.salesforce.history import OWN_USER, QUERY_MAX_CHARS, history_queries
from connectors.salesforce.ids import full_id
from model.writes import FieldChange, FieldWrite
from tests.connectors.salesforce.world import World


def test_who_set_each_current_value(world: World) -> None:
    state = world.state
    world.state.track("Contact", ["Phone", "Title", "OwnerId", "MailingCity"])
    person = state.add_user("Ann", "Lee", "ann@example.com")
    ids = [world.contact(phone="555 0100", city="lyon", email=f"p{n}@x.io") for n in range(4)]
    edited = world.clock.tick(minutes=5)
    state.update("Contact", ids[0], {"Phone": "555-0100", "OwnerId": person}, by=person)
    state.update("Contact", ids[1], {"Email": "new@x.io"}, by=person)  # Email: not tracked
    world.clock.tick(minutes=5)
    connector = world.connector()
    [written] = connector.update("contacts", [FieldWrite("k1", ids[2], {"city": "Lyon"})])
    assert written.ok
    state.track("Contact", ["Phone", "Title", "OwnerId"])  # tracking of the city stops...
    state.update("Contact", ids[2], {"MailingCity": "LYON"}, by=person)  # ...before this
    state.update("Contact", ids[3], {"MailingCity": "Lyon"}, by=person)

    found = connector.field_changes(
        "contacts",
        [(i, "phone") for i in ids]
        + [(ids[0], "owner_id"), (ids[1], "email"), (ids[2], "city"), (ids[3], "city")],
    )

    assert found[(ids[0], "phone")] == FieldChange("555-0100", edited, user_id=person)
    assert found[(ids[0], "owner_id")] == FieldChange(person, edited, user_id=person)
    assert (ids[1], "phone") not in found  # never changed since it was created: no row
    assert (ids[1], "email") not in found  # not tracked: unknown, not "nobody"
    assert (ids[2], "city") not in found  # the newest row does not hold the value now
    assert (ids[3], "city") not in found  # changed while not tracked: no row at all
    assert set(found) == {(ids[0], "phone"), (ids[0], "owner_id")}
    assert state.api_user_id != person

    state.track("Contact", ["MailingCity"])
    world.clock.tick(minutes=5)
    [again] = connector.update("contacts", [FieldWrite("k2", ids[2], {"city": "Lyon"})])
    assert again.ok
    by_syncd = connector.field_changes("contacts", [(ids[2][:15], "city")])
    assert by_syncd == {
        (ids[2][:15], "city"): FieldChange(
            "Lyon", world.clock.now, user_id=state.api_user_id, via=OWN_USER
        )
    }


def test_history_is_read_through_query_all_and_says_nothing_of_what_is_gone(
    world: World,
) -> None:
    state = world.state
    ids = [world.contact(phone="1") for _ in range(30)]
    world.clock.tick(minutes=1)
    for record_id in ids:
        state.update("Contact", record_id, {"Phone": "2"})
    state.delete("Contact", ids[0])
    state.merge("Contact", ids[1], [ids[2]])
    state.record_exchanges = True

    found = world.connector().field_changes("contacts", [(i, "phone") for i in ids])

    assert set(found) == {(i, "phone") for i in ids[3:]} | {(ids[1], "phone")}
    reads = [x for x in state.request_log if "FROM ContactHistory" in x.query.get("q", [""])[0]]
    assert len(reads) == 1
    assert all(x.path.rstrip("/").endswith("/queryAll") for x in reads)  # 18 to 24 months too


def test_queries_chunk_ids_and_objects_without_history_say_nothing(world: World) -> None:
    ids = [full_id(f"0035g00000{n:05d}") or "" for n in range(1000)]
    queries = list(history_queries("ContactHistory", "ContactId", ids, ["Phone", "Owner"]))
    assert len(queries) > 1
    assert all(len(quote_plus(q)) <= QUERY_MAX_CHARS for q in queries)
    assert sum(q.count("'003") for q in queries) == 1000
    assert all("AND Field IN ('Phone', 'Owner') ORDER BY CreatedDate DESC" in q for q in queries)
    task = world.state.create("Task", {"Subject": "x"})
    assert world.connector().field_changes("tasks", [(task, "subject")]) == {}
