"""Generated data as syncd sees it: the sandbox's objects through the HubSpot connector's mapping.

The sandbox shares no code with the client it checks, so turning its wire-shaped objects into
canonical records is done here, with the connector's own parsing, for benchmarks and tests.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.hubspot.mapping import crm_record, field_maps
from model.records import Record
from sandbox.generator.model import Dataset, iso


def canonical_records(dataset: Dataset) -> dict[str, list[Record]]:
    """The dataset's objects as the connector delivers them: canonical records by object type."""
    maps = field_maps()
    return {
        object_type: [
            crm_record(
                object_type,
                {
                    "id": o.id,
                    "properties": o.properties,
                    "createdAt": iso(o.created_at),
                    "updatedAt": iso(o.updated_at),
                    "archived": False,
                    "associations": {
                        t: {"results": [{"id": i} for i in ids]}
                        for t, ids in o.associations.items()
                    },
                },
                maps[object_type],
                tuple(o.associations),
            )
            for o in objects
        ]
        for object_type, objects in dataset.objects.items()
    }


#: The generator's HubSpot properties of a contact, written as the canonical column of each
#: (a spreadsheet export of the generated contacts, for ``syncd plan --csv``).
EXPORT_COLUMNS = {
    "firstname": "firstname",
    "lastname": "lastname",
    "email": "email",
    "phone": "phone",
    "company": "company",
    "address": "address",
    "city": "city",
    "state": "state",
    "zip": "zip",
    "country": "country",
    "lifecyclestage": "lifecycle_stage",
    "hs_lead_status": "lead_status",
    "hubspot_owner_id": "owner_id",
    "notes_last_updated": "last_activity_at",
    "createdate": "created_at",
}


def export_rows(dataset: Dataset) -> Iterator[list[str]]:
    """The generated contacts as export rows: the id, then :data:`EXPORT_COLUMNS` in order."""
    for contact in dataset.objects["contacts"]:
        props = contact.properties
        yield [contact.id, *(props.get(f) or "" for f in EXPORT_COLUMNS)]
