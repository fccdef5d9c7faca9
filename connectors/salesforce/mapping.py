"""Salesforce's fields to canonical ones and back, in one place, as ``describe`` says they are.

Each object type has one :class:`FieldMap`, built from the connector's defaults
(:data:`VENDOR_FIELDS`: ``OwnerId`` → ``owner_id``, ``Title`` → ``jobtitle``, ``Mailing*`` /
``Billing*`` / ``Street``... → ``address``, ``city``, ``state``, ``zip``, ``country``,
``Status`` → ``lead_status``, ``StageName`` → ``stage``...), the source's ``fields`` setting
(custom fields by canonical name: ``Tags__c`` → ``tags``) and the object's ``describe``: a field
that ``describe`` does not list (it does not exist, or field-level security hides it from syncd's
user) is neither requested nor delivered: its canonical field is *absent* from the record
(unknown), never ``None`` (empty).

Values with a meaning policies rely on are decided here: a task's ``status`` is ``completed``
when Salesforce says ``IsClosed`` and ``open`` otherwise (``open`` is written as ``Not
Started``, ``completed`` as ``Completed``); a lead's ``lead_open`` is ``false`` once it is
converted (``IsConverted``) or its status is one of ``closed_lead_statuses``; a deal's
``is_closed`` and ``is_won`` are Salesforce's own ``IsClosed`` and ``IsWon`` (from the stage's
metadata). Types follow ``describe``: datetimes become ``2024-01-01T00:00:00.000Z``, a date read
into a canonical datetime field (``due``, ``closedate``, ``last_activity_at``) becomes midnight
UTC of that day and goes back as the date, booleans ``true``/``false``, numbers without a
trailing ``.0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from connectors.salesforce.settings import DECIDED_FIELDS, SOBJECTS, SalesforceSettings
from model.fields import FALSE, PERSON_ACCOUNT, TASK_COMPLETED, TASK_OPEN, TRUE, field_spec
from model.records import Record
from model.writes import WriteErrorKind

_TIMES = {"CreatedDate": "created_at", "LastModifiedDate": "updated_at"}
_PERSON = {
    "FirstName": "firstname",
    "LastName": "lastname",
    "Email": "email",
    "Phone": "phone",
    "MobilePhone": "mobilephone",
    "Title": "jobtitle",
}
VENDOR_FIELDS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "leads": {
            **_PERSON,
            "Company": "company",
            "Street": "address",
            "City": "city",
            "State": "state",
            "PostalCode": "zip",
            "Country": "country",
            "Website": "website",
            "Status": "lead_status",
            "OwnerId": "owner_id",
            "LastActivityDate": "last_activity_at",
            **_TIMES,
        },
        "contacts": {
            **_PERSON,
            "Account.Name": "company",
            "MailingStreet": "address",
            "MailingCity": "city",
            "MailingState": "state",
            "MailingPostalCode": "zip",
            "MailingCountry": "country",
            "Birthdate": "birthdate",
            "OwnerId": "owner_id",
            "LastActivityDate": "last_activity_at",
            **_TIMES,
        },
        "companies": {
            "Name": "name",
            "Website": "website",
            "Phone": "phone",
            "BillingStreet": "address",
            "BillingCity": "city",
            "BillingState": "state",
            "BillingPostalCode": "zip",
            "BillingCountry": "country",
            "Industry": "industry",
            "OwnerId": "owner_id",
            **_TIMES,
        },
        "deals": {
            "Name": "dealname",
            "Amount": "amount",
            "CloseDate": "closedate",
            "StageName": "stage",
            "IsClosed": "is_closed",
            "IsWon": "is_won",
            "OwnerId": "owner_id",
            **_TIMES,
        },
        "tasks": {
            "Subject": "subject",
            "Description": "body",
            "Status": "status",
            "Priority": "priority",
            "TaskSubtype": "task_type",
            "ActivityDate": "due",
            "OwnerId": "owner_id",
            **_TIMES,
        },
        "owners": {
            "Email": "email",
            "FirstName": "firstname",
            "LastName": "lastname",
            "Id": "user_id",  # an owner is a user: field history names users by this id
        },
    }
)
"""Salesforce field → canonical field, per object type (the connector's defaults). A dotted
name is a field of the record a lookup points at (``Account.Name``: the contact's account's
name), queried through the parent relationship and never written (see :data:`PARENTS`)."""

PARENTS: Mapping[str, str] = MappingProxyType({"Account": "AccountId"})
"""Parent relationship → the lookup field it follows: a dotted field is mapped when
``describe`` lists the lookup."""

PERSON_ACCOUNT_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "FirstName": "firstname",
        "LastName": "lastname",
        "PersonEmail": "email",
        "Phone": "phone",
        "PersonMobilePhone": "mobilephone",
        "PersonTitle": "jobtitle",
        "PersonMailingStreet": "address",
        "PersonMailingCity": "city",
        "PersonMailingState": "state",
        "PersonMailingPostalCode": "zip",
        "PersonMailingCountry": "country",
        "PersonBirthdate": "birthdate",
        "OwnerId": "owner_id",
        "LastActivityDate": "last_activity_at",
        **_TIMES,
    }
)
"""A person account's Account fields → canonical contact fields: a person account is pulled as
a contact (its id the Account's), written through the Account with these names (Salesforce's
Account reference, "Person Account fields"; a person account has no company)."""
PERSON_INTERNAL: tuple[str, ...] = ("Id", "SystemModstamp", "IsPersonAccount", "PersonContactId")
PERSON_SCOPE = "IsPersonAccount = true"
BUSINESS_SCOPE = "IsPersonAccount = false"

INTERNAL: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "leads": ("Id", "SystemModstamp", "IsConverted"),
        "contacts": ("Id", "SystemModstamp", "AccountId"),
        "companies": ("Id", "SystemModstamp"),
        "deals": ("Id", "SystemModstamp", "AccountId"),
        "tasks": ("Id", "SystemModstamp", "IsClosed", "WhoId", "WhatId", "CreatedById"),
        "owners": ("Id", "SystemModstamp", "IsActive"),
    }
)
"""Fields the connector reads for itself (ids, the cursor's timestamp, associations, what
decides a canonical value); never delivered under their own names."""

TASK_STATUS_OPEN = "Not Started"
TASK_STATUS_DONE = "Completed"
TASK_STATUSES: tuple[str, ...] = (
    TASK_STATUS_OPEN,
    "In Progress",
    TASK_STATUS_DONE,
    "Waiting on someone else",
    "Deferred",
)
"""The standard org's task statuses (an org may add its own; ``IsClosed`` decides)."""
#: What a task's related id's key prefix says it is: WhoId and WhatId point at several objects.
PREFIX_TYPES: Mapping[str, str] = MappingProxyType(
    {"003": "contacts", "00Q": "leads", "001": "companies", "006": "deals", "005": "owners"}
)
ASSOCIATION_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "leads": (),
        "contacts": ("companies",),
        "companies": (),
        "deals": ("companies",),
        "tasks": ("contacts", "leads", "companies", "deals"),
        "owners": (),
    }
)
"""Associated object types each record carries (each present, empty when none)."""

_NUMBERS = frozenset({"double", "currency", "percent", "int", "long"})


class WriteRefusedError(ValueError):
    """A write the connector refuses before sending it: ``kind`` and the canonical ``fields``."""

    def __init__(self, kind: WriteErrorKind, fields: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.fields = tuple(fields)
        self.message = message


class MalformedRecordError(ValueError):
    """A record the connector cannot read; ``record_id`` may be ``"?"``."""

    def __init__(self, record_id: str, reason: str) -> None:
        super().__init__(reason)
        self.record_id = record_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Described:
    """What ``describe`` says of one field."""

    name: str
    label: str
    type: str
    updateable: bool
    createable: bool
    nillable: bool
    picklist: tuple[tuple[str, str, bool], ...] = ()
    """(value, label, active) per picklist value."""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Described:
        values = tuple(
            (str(v.get("value")), str(v.get("label") or v.get("value")), bool(v.get("active")))
            for v in raw.get("picklistValues") or ()
            if isinstance(v, Mapping) and v.get("value") is not None
        )
        return cls(
            name=str(raw["name"]),
            label=str(raw.get("label") or raw["name"]),
            type=str(raw.get("type") or "string"),
            updateable=bool(raw.get("updateable")),
            createable=bool(raw.get("createable")),
            nillable=bool(raw.get("nillable", True)),
            picklist=values,
        )


def parse_datetime(value: object) -> datetime:
    """A Salesforce timestamp (``2024-01-01T00:00:00.000+0000`` in JSON, ``...Z`` in CSV) as an
    aware UTC datetime; ``ValueError`` when it is none."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def canonical_datetime(moment: datetime) -> str:
    """The canonical timestamp: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (unquoted): ``2024-01-01T00:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _read(value: Any, kind: str, canonical: str, object_type: str) -> str | None:
    """One Salesforce value (JSON or CSV text) as its canonical string."""
    if value is None or value == "":
        return None
    if kind == "boolean":
        truth = value if isinstance(value, bool) else str(value).lower() == "true"
        return TRUE if truth else FALSE
    if kind in _NUMBERS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return _number(number)
    if kind == "datetime":
        try:
            return canonical_datetime(parse_datetime(value))
        except ValueError:
            return str(value)
    if kind == "date":
        spec = field_spec(object_type, canonical)
        if spec is not None and spec.kind == "datetime":
            try:
                day = date.fromisoformat(str(value)[:10])
            except ValueError:
                return str(value)
            return canonical_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))
        return str(value)
    return str(value)


def _write(value: str | None, described: Described) -> Any:
    """A canonical string as the JSON value Salesforce takes for the field; ``ValueError``."""
    if value is None:
        return None
    kind = described.type
    if kind == "boolean":
        if value.strip().lower() not in (TRUE, FALSE):
            raise ValueError(f"{value!r} is not true or false")
        return value.strip().lower() == TRUE
    if kind in _NUMBERS:
        number = float(value)
        return int(number) if kind in ("int", "long") else number
    if kind == "date":
        return (
            parse_datetime(value).date().isoformat()
            if "T" in value
            else date.fromisoformat(value).isoformat()
        )
    if kind == "datetime":
        return canonical_datetime(parse_datetime(value))
    return value


@dataclass(frozen=True, slots=True)
class FieldMap:
    """The map of one object type for one source (see the module docstring).

    ``pairs`` are (Salesforce field, canonical field) for the fields ``describe`` lists;
    ``missing`` the configured ones it does not (unknown to syncd's user); ``described`` every
    field ``describe`` lists, by name.
    """

    object_type: str
    sobject: str
    pairs: tuple[tuple[str, str], ...]
    described: Mapping[str, Described]
    internal: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    closed_lead_statuses: frozenset[str] = frozenset()
    scope: str = ""
    """A SOQL condition every query through the map adds (person or business accounts)."""
    _by_canonical: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        canonical = [c for _, c in self.pairs]
        if len(set(canonical)) != len(canonical):
            raise ValueError("a field map must be one-to-one")
        object.__setattr__(self, "_by_canonical", {c: v for v, c in self.pairs})

    @property
    def vendor_names(self) -> tuple[str, ...]:
        """Every field to request: the mapped ones and the internal ones ``describe`` lists."""
        internal = [n for n in self.internal if n in self.described]
        return tuple(dict.fromkeys([*internal, *(v for v, _ in self.pairs)]))

    @property
    def canonical_names(self) -> tuple[str, ...]:
        names = [c for _, c in self.pairs]
        if self._lead_open_known:
            names.append("lead_open")
        return tuple(names)

    @property
    def _lead_open_known(self) -> bool:
        return self.object_type == "leads" and "lead_status" in self._by_canonical

    def vendor_name(self, canonical: str) -> str:
        return self._by_canonical.get(canonical, canonical)

    def canonical_name(self, vendor: str) -> str:
        return next((c for v, c in self.pairs if v == vendor), vendor)

    def type_of(self, vendor: str) -> str:
        described = self.described.get(vendor)
        return described.type if described is not None else "string"

    def where(self, condition: str = "") -> str:
        """``condition`` and the map's :attr:`scope`, for a WHERE clause ("" when neither)."""
        return " AND ".join(c for c in (condition, self.scope) if c)

    def is_writable(self, vendor: str) -> bool:
        """Whether syncd's user may update the field (a parent's field never)."""
        described = self.described.get(vendor)
        return "." not in vendor and described is not None and described.updateable

    def to_canonical(self, raw: Mapping[str, Any]) -> dict[str, str | None]:
        """A record's canonical values; every mapped field present (``None`` when empty), and
        fields ``describe`` does not list absent."""
        found: dict[str, str | None] = {}
        for vendor, canonical in self.pairs:
            found[canonical] = _read(
                _raw_value(raw, vendor), self.type_of(vendor), canonical, self.object_type
            )
        if self.object_type == "tasks" and "status" in found and "IsClosed" in self.described:
            closed = _read(raw.get("IsClosed"), "boolean", "status", "tasks") == TRUE
            found["status"] = TASK_COMPLETED if closed else TASK_OPEN
        if self._lead_open_known:
            status = found.get("lead_status")
            converted = _read(raw.get("IsConverted"), "boolean", "lead_open", "leads") == TRUE
            closed = status is not None and status in self.closed_lead_statuses
            found["lead_open"] = FALSE if converted or closed or status is None else TRUE
        return found

    def to_vendor(self, values: Mapping[str, str | None]) -> dict[str, Any]:
        """Canonical values to Salesforce's JSON values; :class:`WriteRefusedError` (with every
        field refused) for a field the connector or Salesforce decides, a field ``describe``
        does not list, one syncd's user may not update, or a value of the wrong type."""
        decided = sorted(n for n in values if n in DECIDED_FIELDS)
        if decided:
            raise WriteRefusedError(
                WriteErrorKind.INVALID_VALUE,
                decided,
                f"not written: read-only field(s) {decided}: decided by the connector",
            )
        out: dict[str, Any] = {}
        unknown: list[str] = []
        locked: list[str] = []
        parents: list[str] = []
        invalid: list[str] = []
        for name, given in values.items():
            value = given
            vendor = self.vendor_name(name)
            if "." in vendor:
                parents.append(name)  # a field of the parent record (the account's name)
                continue
            described = self.described.get(vendor)
            if described is None:
                unknown.append(name)
                continue
            if not described.updateable:
                locked.append(name)
                continue
            if self.object_type == "tasks" and name == "status" and value is not None:
                value = {TASK_OPEN: TASK_STATUS_OPEN, TASK_COMPLETED: TASK_STATUS_DONE}.get(
                    value, value
                )
            try:
                out[vendor] = _write(value, described)
            except ValueError:
                invalid.append(name)
        if unknown:
            raise WriteRefusedError(
                WriteErrorKind.INVALID_VALUE,
                unknown,
                f"not written: {self.sobject} has no field {unknown} that syncd's user can see",
            )
        if parents:
            raise WriteRefusedError(
                WriteErrorKind.PERMISSION,
                parents,
                f"not written: {parents} of a {self.sobject} are read-only, fields of the record "
                "it points at (its account's name): change that record",
            )
        if locked:
            raise WriteRefusedError(
                WriteErrorKind.PERMISSION,
                locked,
                f"not written: syncd's user may not update {locked} of {self.sobject}",
            )
        if invalid:
            raise WriteRefusedError(
                WriteErrorKind.INVALID_VALUE,
                invalid,
                f"not written: {invalid} hold values {self.sobject} cannot take",
            )
        return out

    def subset(self, canonical: Iterable[str]) -> FieldMap:
        """The map restricted to ``canonical`` fields (what a read asks for); a derived field
        brings what decides it."""
        wanted = set(canonical)
        if "lead_open" in wanted:
            wanted.add("lead_status")
        pairs = tuple((v, c) for v, c in self.pairs if c in wanted)
        return FieldMap(
            self.object_type,
            self.sobject,
            pairs,
            self.described,
            self.internal,
            (),
            self.closed_lead_statuses,
            self.scope,
        )


def person_map(describe: Mapping[str, Any]) -> FieldMap | None:
    """The map of person accounts read as contacts, from the Account's ``describe``; ``None``
    when the org has no Person Accounts (``describe`` lists no ``IsPersonAccount``)."""
    described = {
        d.name: d
        for d in (Described.from_json(f) for f in describe.get("fields") or () if "name" in f)
    }
    if "IsPersonAccount" not in described:
        return None
    pairs = tuple((v, c) for v, c in PERSON_ACCOUNT_FIELDS.items() if v in described)
    return FieldMap(
        "contacts",
        "Account",
        pairs,
        MappingProxyType(described),
        PERSON_INTERNAL,
        scope=PERSON_SCOPE,
    )


def field_map(
    object_type: str,
    settings: SalesforceSettings,
    describe: Mapping[str, Any],
    *,
    scope: str = "",
) -> FieldMap:
    """The map of ``object_type`` for ``settings`` and the object's ``describe`` answer;
    ``scope`` a condition its queries add (:data:`BUSINESS_SCOPE` for contacts and accounts in
    an org with Person Accounts)."""
    described = {
        d.name: d
        for d in (Described.from_json(f) for f in describe.get("fields") or () if "name" in f)
    }
    wanted = dict(VENDOR_FIELDS[object_type])
    custom = settings.fields.get(object_type, {})
    claimed = set(custom.values())
    wanted = {v: c for v, c in wanted.items() if c not in claimed}
    wanted.update(custom)

    def listed(vendor: str) -> bool:
        relationship, dot, _ = vendor.partition(".")
        return PARENTS.get(relationship, "") in described if dot else vendor in described

    pairs = tuple((v, c) for v, c in wanted.items() if listed(v))
    missing = tuple(v for v in wanted if not listed(v))
    return FieldMap(
        object_type,
        SOBJECTS[object_type],
        pairs,
        MappingProxyType(described),
        INTERNAL[object_type],
        missing,
        frozenset(settings.closed_lead_statuses),
        scope,
    )


def _raw_value(raw: Mapping[str, Any], vendor: str) -> Any:
    """A field's value in a query's JSON or a Bulk CSV row; a parent's field (``Account.Name``)
    nests in JSON (``"Account": {"attributes": ..., "Name": ...}`` or ``null``) and is a column
    of its own in CSV."""
    if "." not in vendor or vendor in raw:
        return raw.get(vendor)
    relationship, _, name = vendor.partition(".")
    parent = raw.get(relationship)
    return parent.get(name) if isinstance(parent, Mapping) else None


def _associations(object_type: str, raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {t: [] for t in ASSOCIATION_TYPES[object_type]}
    for name in ("AccountId", "WhoId", "WhatId"):
        value = raw.get(name)
        if not value:
            continue
        target = PREFIX_TYPES.get(str(value)[:3])
        if target in found:
            found[target].append(str(value))
    return {t: tuple(dict.fromkeys(ids)) for t, ids in found.items()}


def record_of(object_type: str, raw: Mapping[str, Any], fields: FieldMap) -> Record:
    """One record (a query's JSON or a Bulk CSV row) as a canonical :class:`Record`.

    Deleted rows (``IsDeleted``) come ``archived``, or ``merged_into`` their ``MasterRecordId``
    with no properties (the store keeps their last values); converted leads come ``archived``
    (a converted lead lives on as its contact, and Salesforce refuses edits to it); inactive
    users come ``archived``. Raises :class:`MalformedRecordError` without an id or a readable
    ``SystemModstamp``.
    """
    record_id = raw.get("Id")
    if not isinstance(record_id, str) or not record_id:
        raise MalformedRecordError("?", "missing Id")
    try:
        updated_at = parse_datetime(raw.get("SystemModstamp"))
    except ValueError:
        raise MalformedRecordError(
            record_id, f"unparseable SystemModstamp {raw.get('SystemModstamp')!r}"
        ) from None
    try:
        created_at: datetime | None = parse_datetime(raw.get("CreatedDate"))
    except ValueError:
        created_at = None
    deleted = _read(raw.get("IsDeleted"), "boolean", "", object_type) == TRUE
    master = raw.get("MasterRecordId")
    if deleted and master:
        return Record(object_type, record_id, {}, updated_at, created_at, merged_into=str(master))
    archived = deleted
    if object_type == "leads":
        archived = archived or _read(raw.get("IsConverted"), "boolean", "", "leads") == TRUE
    if object_type == "owners":
        properties = fields.to_canonical(raw)
        properties["user_id"] = record_id
        active = _read(raw.get("IsActive"), "boolean", "", "owners")
        return Record(
            "owners", record_id, properties, updated_at, created_at, archived=active == FALSE
        )
    properties = fields.to_canonical(raw)
    if fields.scope == PERSON_SCOPE:  # a person account: merged only with person accounts
        properties["merge_scope"] = PERSON_ACCOUNT
    return Record(
        object_type,
        record_id,
        properties,
        updated_at,
        created_at,
        archived=archived,
        associations=_associations(object_type, raw),
    )


def csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A Bulk API 2.0 CSV row: empty cells are nulls."""
    return {k: (v if v != "" else None) for k, v in row.items()}
