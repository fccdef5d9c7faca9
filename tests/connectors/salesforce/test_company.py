"""A contact's ``company`` is its account's name, read through the parent relationship
(``Account.Name`` in the Contact SOQL, nested in JSON, a column in Bulk CSV) and never written
(a field of another record): the schema says so, the writer refuses it unsent, plans drop it."""

from __future__ import annotations

from datetime import UTC, datetime

from model.changes import Merge, Snapshot, Update
from model.records import PropertyDef, Record
from model.writes import FieldWrite, WriteErrorKind
from syncd.plan import compose
from tests.connectors.salesforce.world import World


def test_a_contacts_company_is_its_accounts_name(world: World) -> None:
    acme = world.state.create("Account", {"Name": "Acme AS"})
    ann = world.contact(firstname="Ann")
    world.state.update("Contact", ann, {"AccountId": acme})
    bob = world.contact(firstname="Bob")
    world.clock.tick(minutes=1)

    pulled = world.pull(world.connector(), "contacts")

    assert pulled.by_id[ann].properties["company"] == "Acme AS"
    assert pulled.by_id[bob].properties["company"] is None, "no account: empty, not unknown"
    assert pulled.by_id[ann].associations["companies"] == (acme,)


def test_bulk_reads_the_company_from_its_column(world: World) -> None:
    acme = world.state.create("Account", {"Name": "Acme AS"})
    made = [world.contact(firstname=f"B{i}") for i in range(12)]
    world.state.update("Contact", made[0], {"AccountId": acme})
    world.clock.tick(minutes=1)
    connector = world.connector(bulk_threshold=10)

    pulled = world.pull(connector, "contacts")

    assert connector.calls["bulk"] >= 3
    assert pulled.by_id[made[0]].properties["company"] == "Acme AS"
    assert pulled.by_id[made[1]].properties["company"] is None


def test_company_is_read_only_for_a_salesforce_contact(world: World) -> None:
    acme = world.state.create("Account", {"Name": "Acme AS"})
    ann = world.contact(firstname="Ann")
    world.state.update("Contact", ann, {"AccountId": acme})
    connector = world.connector()
    world.state.record_exchanges = True

    [company] = [p for p in connector.properties("contacts") if p.name == "company"]
    [refused, city] = connector.update(
        "contacts",
        [
            FieldWrite("k1", ann, {"company": "Acme"}),
            FieldWrite("k2", ann, {"city": "Oslo"}),
        ],
    )

    assert not company.writable
    assert not refused.ok
    assert refused.error_kind is WriteErrorKind.PERMISSION
    assert refused.fields == ("company",)
    assert city.ok
    sent = [e.request_json for e in world.state.request_log if e.method == "PATCH"]
    assert all("Account.Name" not in str(body) for body in sent), "never sent"
    account = world.state.live("Account", acme)
    assert account is not None
    assert account.values["Name"] == "Acme AS"


def test_a_plan_never_writes_a_read_only_field() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    records = {"contacts": [Record("contacts", "1", {"company": "acme"}, now)]}
    schema = {
        "contacts": {
            "company": PropertyDef("company", "Account.Name", "string", writable=False),
            "city": PropertyDef("city", "City", "string"),
        }
    }
    snapshot = Snapshot("sf", now, records, schema=schema)
    fix = Update("sf", "contacts", "normalize", "casing", "1", "company", "acme", "Acme")
    city = Update("sf", "contacts", "normalize", "casing", "3", "city", "oslo", "Oslo")
    merge = Merge(
        "sf", "contacts", "dedupe", "same", "1", ("2",), 0.99,
        field_values={"company": "Acme", "city": "Oslo"},
    )  # fmt: skip

    composed = compose([fix, city, merge], snapshot)

    assert fix not in composed
    assert city in composed
    [kept] = [c for c in composed if isinstance(c, Merge)]
    assert kept.field_values == {"city": "Oslo"}
