"""The normalize policy: rewrite field values into one canonical form per kind of field.

Which normalizers run on which field is a per-object-type mapping in the settings
(``fields.contacts.phone = ["phone"]``). The normalizers, in the order they run per field:

- ``whitespace``: strip, collapse inner runs of whitespace.
- ``name_case``: a person's name typed in all capitals or all lower case to name case
  (``'JEAN-PIERRE'`` → ``'Jean-Pierre'``, ``'mcdonald'`` → ``'McDonald'``); mixed case is left
  as typed.
- ``email``: trim and lower-case; ``email_list``: the same for each ``;``-joined item.
- ``phone``: E.164 via phonenumbers, an extension kept as ``+14155550132;ext=123``. The number
  is read in the record's country when that is known, else in ``default_region``. A number that
  does not parse or is not valid is left exactly as it is (and flagged).
- ``state``: US/Canadian state and province names and abbreviations (``'Calif.'``, ``'N.Y.'``,
  ``'new york'``, ``'ny'``) to the ISO 3166-2 suffix (``'CA'``, ``'NY'``); only when the record's
  country is US or CA or empty, and only when the value is unambiguous.
- ``country``: names, codes and common variants (``'USA'``, ``'UK'``, ``'Deutschland'``) to ISO
  3166-1 alpha-2 (``'US'``, ``'GB'``, ``'DE'``).
- ``domain``: a bare lower-case domain (``'https://www.Acme.com/'`` → ``'acme.com'``); the
  default for ``domain`` and ``website`` fields.

A normalizer that cannot read a value leaves it as it is. With ``flag_invalid`` (default), an
e-mail that is not a valid address once trimmed and lower-cased (``email-validator``, syntax
only, no DNS), an e-mail list with such an item, and a phone number that does not parse or is
not valid (as ``phone_validation`` says) are not rewritten but flagged (:class:`Flag`).

A value that becomes blank is set to ``None``. The policy proposes a value only when it is a
fixed point (normalizing it again gives itself), so ``normalize(normalize(x)) ==
normalize(x)``; each update's ``old`` is the record's current value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from model.changes import Change, Flag, Snapshot, Update
from model.records import Record
from policies.base import AheadWork, Policy, same_properties
from policies.geo import STATE_COUNTRIES, country_code, state_code
from policies.normalizers import (
    check_region,
    collapse_whitespace,
    email_list_problems,
    email_problem,
    normalize_domain,
    normalize_email,
    normalize_email_list,
    normalize_name_case,
    normalize_phone,
    phone_problem,
)

NormalizerName = Literal[
    "whitespace", "name_case", "email", "email_list", "phone", "state", "country", "domain"
]

_TEXT: tuple[NormalizerName, ...] = ("whitespace",)
_PHONE: tuple[NormalizerName, ...] = ("phone",)
_NAME: tuple[NormalizerName, ...] = ("whitespace", "name_case")
_ADDRESS: dict[str, tuple[NormalizerName, ...]] = {
    "phone": _PHONE,
    "address": _TEXT,
    "city": _TEXT,
    "state": ("whitespace", "state"),
    "zip": _TEXT,
    "country": ("whitespace", "country"),
}
DEFAULT_FIELDS: dict[str, dict[str, tuple[NormalizerName, ...]]] = {
    "contacts": {
        "firstname": _NAME,
        "lastname": _NAME,
        "email": ("email",),
        "additional_emails": ("email_list",),
        "mobilephone": _PHONE,
        "company": _TEXT,
        "jobtitle": _TEXT,
        "website": ("domain",),
        **_ADDRESS,
    },
    "leads": {
        "firstname": _NAME,
        "lastname": _NAME,
        "email": ("email",),
        "mobilephone": _PHONE,
        "company": _TEXT,
        "jobtitle": _TEXT,
        "website": ("domain",),
        **_ADDRESS,
    },
    "companies": {
        "name": _TEXT,
        "domain": ("domain",),
        "website": ("domain",),
        **_ADDRESS,
    },
}

_WHY: Mapping[NormalizerName, str] = {
    "whitespace": "has stray whitespace",
    "name_case": "is typed in all capitals or all lower case",
    "email": "is not trimmed lower-case",
    "email_list": "is not a clean ';'-separated list of trimmed lower-case e-mails",
    "phone": "is not in E.164 format",
    "state": "is not an ISO 3166-2 state code",
    "country": "is not an ISO 3166-1 alpha-2 country code",
    "domain": "is not a bare lower-case domain",
}


class NormalizeSettings(BaseModel):
    """Settings of the normalize policy (``[policies.normalize]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    default_region: str = Field(
        default="US",
        description="ISO 3166-1 alpha-2 region in which a phone number without '+' is read "
        "when the record has no known country (the source's config may override it).",
    )
    phone_region_from_country: bool = Field(
        default=True,
        description="Read a phone number without '+' in the record's own country when its "
        "country field names one phonenumbers knows.",
    )
    phone_validation: Literal["valid", "possible"] = Field(
        default="valid",
        description="'valid': only numbers phonenumbers knows to be assigned are rewritten; "
        "'possible': any number of plausible length is (e.g. 555 test numbers).",
    )
    country_fuzzy_cutoff: float = Field(
        default=85.0,
        ge=0.0,
        le=100.0,
        description="Minimum rapidfuzz ratio (0..100) for a misspelt country name to be "
        "accepted; 0 turns fuzzy country matching off.",
    )
    flag_invalid: bool = Field(
        default=True,
        description="Flag e-mails that are not valid addresses (syntax only, no DNS look-up) "
        "and phone numbers that do not parse or are not valid, instead of leaving them "
        "silently.",
    )
    fields: dict[str, dict[str, tuple[NormalizerName, ...]]] = Field(
        default_factory=lambda: {t: dict(f) for t, f in DEFAULT_FIELDS.items()},
        description="Per object type, field name → the normalizers applied to it, in order.",
    )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return check_region(value)


_Remembered = tuple[Mapping[str, str | None], Sequence[Change]]
"""A record's properties and the changes they gave."""


def _kept_for(last: _Remembered | None, record: Record) -> _Remembered | None:
    """``last`` when it was made from ``record``'s properties (the very dict, for a record a
    kept snapshot did not read again: no comparison), else None."""
    return last if last is not None and same_properties(last[0], record) else None


@dataclass(frozen=True, slots=True)
class _Context:
    """What a normalizer may know about the record besides the value."""

    country: str | None  # the record's country as alpha-2, if known
    country_blank: bool
    phone_region: str


class NormalizePolicy(Policy):
    """Proposes an :class:`Update` for each mapped field whose canonical form differs, and a
    :class:`Flag` for an invalid e-mail or phone (see the module docstring)."""

    name = "normalize"

    def __init__(self, settings: NormalizeSettings) -> None:
        self.settings = settings
        self._memory: MutableMapping[str, Any] | None = None
        self._ahead: dict[tuple[str, str], _Remembered] = {}
        self._notes: dict[str, str] = {}
        self._steps: Mapping[NormalizerName, Callable[[str, _Context], str | None]] = {
            "whitespace": lambda v, _c: collapse_whitespace(v),
            "name_case": lambda v, _c: normalize_name_case(v),
            "email": lambda v, _c: normalize_email(v),
            "email_list": lambda v, _c: normalize_email_list(v),
            "phone": self._phone,
            "state": self._state,
            "country": lambda v, _c: country_code(v, settings.country_fuzzy_cutoff),
            "domain": lambda v, _c: normalize_domain(v),
        }

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        changes: list[Change] = []
        memory = self._memory
        signature = (snapshot.source, self.settings.model_dump_json())
        known: Mapping[tuple[str, str], _Remembered] = {}
        if memory is not None and memory.get("signature") == signature:
            known = memory.get("records") or {}
        ahead, self._ahead = self._ahead, {}
        kept: dict[tuple[str, str], _Remembered] = {}
        reused = seen = 0
        for object_type, fields in self.settings.fields.items():
            for record in snapshot.in_id_order(object_type):
                key = (object_type, record.id)
                seen += 1
                last = _kept_for(known.get(key), record) or _kept_for(ahead.get(key), record)
                if last is not None:
                    found = last[1]
                    reused += 1
                else:
                    found = self._record_changes(snapshot.source, record, fields)
                if memory is not None:
                    kept[key] = (record.properties, found)
                changes.extend(found)
        if memory is not None:
            memory["signature"], memory["records"] = signature, kept
        if memory is not None or ahead:
            how = " (the rest worked out ahead)" if ahead else ""
            self._notes = {"records": f"{seen - reused} of {seen} normalized again{how}"}
        return changes

    # -- work done ahead (syncd.ahead) -------------------------------------------------------

    def ahead(self, snapshot: Snapshot) -> AheadWork:
        """Per object type, the changes of each record that has some (see
        :class:`~policies.base.Ahead`: they depend on the record alone)."""
        work: dict[str, dict[str, Sequence[Change]]] = {}
        for object_type, fields in self.settings.fields.items():
            found = work[object_type] = {}
            for record in snapshot.of(object_type):
                changes = self._record_changes(snapshot.source, record, fields)
                if changes:
                    found[record.id] = changes
        return work

    def use(self, snapshot: Snapshot, work: AheadWork) -> None:
        """Take ``work`` (:meth:`ahead` on ``snapshot``) for the next call."""
        self._ahead = {
            (object_type, record.id): (record.properties, found.get(record.id, ()))
            for object_type, found in work.items()
            for record in snapshot.of(object_type)
        }

    # -- incremental runs --------------------------------------------------------------------

    def incremental(self, memory: MutableMapping[str, Any]) -> None:
        """Keep each record's changes in ``memory`` and reuse them for a record whose
        properties are unchanged (they are a function of the record and the settings)."""
        self._memory = memory

    @property
    def notes(self) -> Mapping[str, str]:
        """How many records the last call normalized again."""
        return dict(self._notes)

    def normalize_value(
        self, value: str, steps: tuple[NormalizerName, ...], properties: Mapping[str, str | None]
    ) -> tuple[str | None, list[NormalizerName]]:
        """``value`` through ``steps`` in the context of a record's ``properties``.

        Returns the new value (``None`` when it became blank) and the steps that changed it.
        Returns ``value`` itself with no steps when the result would not be a fixed point.
        """
        return self._normalized(value, steps, self._context(properties))

    def _normalized(
        self, value: str, steps: tuple[NormalizerName, ...], context: _Context
    ) -> tuple[str | None, list[NormalizerName]]:
        new, applied = self._run(value, steps, context)
        if new is not None and new != value and self._run(new, steps, context)[0] != new:
            return value, []
        return new, applied

    def _record_changes(
        self, source: str, record: Record, fields: Mapping[str, tuple[NormalizerName, ...]]
    ) -> list[Change]:
        updates: list[Change] = []
        context: _Context | None = None  # the record's, once: its country read once
        for field_name, steps in fields.items():
            old = record.properties.get(field_name)
            if old is None:
                continue
            if context is None:
                context = self._context(record.properties)
            new, applied = self._normalized(old, steps, context)
            problem = self._problem(new, steps, context)
            if problem is not None:
                updates.append(
                    Flag(
                        source=source,
                        object_type=record.object_type,
                        policy=self.name,
                        reason=f"{field_name} {old!r} {problem}",
                        record_id=record.id,
                        field=field_name,
                        value=old,
                    )
                )
                continue
            if new == old:
                continue
            if new is None:
                reason = f"{field_name} {old!r} is blank (→ empty)"
            else:
                why = " and ".join(_WHY[step] for step in applied)
                reason = f"{field_name} {old!r} {why} (→ {new!r})"
            updates.append(
                Update(
                    source=source,
                    object_type=record.object_type,
                    policy=self.name,
                    reason=reason,
                    record_id=record.id,
                    field=field_name,
                    old=old,
                    new=new,
                )
            )
        return updates

    def _problem(
        self,
        value: str | None,
        steps: tuple[NormalizerName, ...],
        context: _Context,
    ) -> str | None:
        """Why the normalized ``value`` is invalid (a flag), or ``None``."""
        if not self.settings.flag_invalid or value is None:
            return None
        if "email" in steps:
            problem = email_problem(value)
            return None if problem is None else f"is not a valid e-mail address: {problem}"
        if "email_list" in steps:
            bad = email_list_problems(value)
            listed = "; ".join(f"{item!r}: {why}" for item, why in bad)
            return f"holds invalid e-mail addresses ({listed})" if bad else None
        if "phone" in steps:
            return phone_problem(
                value,
                context.phone_region,
                require_valid=self.settings.phone_validation == "valid",
            )
        return None

    def _run(
        self, value: str, steps: tuple[NormalizerName, ...], context: _Context
    ) -> tuple[str | None, list[NormalizerName]]:
        current = value
        applied: list[NormalizerName] = []
        for step in steps:
            result = self._steps[step](current, context)
            if result is not None and result != current:
                applied.append(step)
                current = result
        if not current.strip():
            return None, applied or ["whitespace"]
        return current, applied

    def _context(self, properties: Mapping[str, str | None]) -> _Context:
        raw = collapse_whitespace(properties.get("country") or "")
        country = country_code(raw, self.settings.country_fuzzy_cutoff) if raw else None
        region = self.settings.default_region
        if self.settings.phone_region_from_country and country in phonenumbers.SUPPORTED_REGIONS:
            region = country
        return _Context(country=country, country_blank=not raw, phone_region=region)

    def _phone(self, value: str, context: _Context) -> str | None:
        return normalize_phone(
            value,
            context.phone_region,
            require_valid=self.settings.phone_validation == "valid",
        )

    def _state(self, value: str, context: _Context) -> str | None:
        if context.country_blank:
            return state_code(value)
        if context.country in STATE_COUNTRIES:
            return state_code(value, (context.country,))
        return None
