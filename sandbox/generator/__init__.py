"""Deterministic messy-CRM data generator with ground truth.

``generate(records, seed, now) -> Dataset`` builds a HubSpot-shaped CRM: ``records`` contacts,
about records/5 companies, records/4 deals, records/2 tasks and 8-20 owners. The same
``(records, seed, now)`` gives the same dataset; all randomness comes from
``random.Random(seed)``. ``now`` is read as UTC (naive means UTC) and cut to milliseconds.

Dataset
-------
``ds.objects[type]`` (``contacts``, ``companies``, ``deals``, ``tasks``) lists
:class:`GeneratedObject` values in id order. ``properties`` holds every property of the data
model for that type (``schema.PROPERTIES``), strings or ``None``. ``createdate`` (tasks:
``hs_createdate``), ``lastmodifieddate`` (contacts) / ``hs_lastmodifieddate`` (others),
``notes_last_updated``, ``closedate`` and ``hs_timestamp`` are ISO-8601 UTC with milliseconds
and ``Z``;
``hs_object_id`` is the id. ``created_at <= updated_at`` both lie in the two years before
``now``; a task's due date (``hs_timestamp``) and an open deal's ``closedate`` may lie after it.
Ids are numeric strings numbered in creation order across all types (owners first) with small
gaps, so they are unique across types and duplicates are not adjacent. Associations are
symmetric. ``ds.owners`` are ``GET /crm/v3/owners/`` JSON objects (``id``, ``email``,
``type``, ``firstName``, ``lastName``, ``userId``, ``archived``, ``createdAt``,
``updatedAt``). ``ds.pipelines["deals"]`` are ``GET /crm/v3/pipelines/deals`` JSON objects:
HubSpot's default pipeline and two custom ones with numeric ids (``schema.DEAL_PIPELINES``);
two deals in five are in a custom one, at the stage of the same meaning as the one drawn.

What is messy (approximate rates)
---------------------------------
- Duplicate people: 11-14 % of contacts are in clusters of 2-4 records (70 % pairs). Records
  of one person differ by nickname (``nicknames.csv``), one typo, swapped first/last name, an
  initial, dropped accents, caps lock, the other of work/personal e-mail (as only e-mail or with
  the first in ``hs_additional_emails``), no e-mail, another spelling of the company (``Inc.``
  vs ``LLC`` vs none, capitals), missing fields, an abbreviated street, a new job title, the
  mobile given as phone, and phone formats. Every record of a cluster shares an e-mail or a
  phone number with another, or a matching name (nickname/typo/initial/swap-aware) at the same
  company or in the same city.
- Duplicate companies: about 5 % of company records, clusters of 2-3 with the same domain and
  name variants.
- Names from Anglo, Irish/Scottish, Hispanic, Chinese, Korean, Japanese, Vietnamese, South
  Asian, Slavic (feminine surname forms), Germanic/Dutch (``van der Berg``), French, Italian,
  Arabic, Turkish and African pools; hyphenated and double surnames; diacritics kept or dropped.
- Phones: US/CA mostly, GB/DE/FR with ``+`` or national prefixes; about 8 % with extensions
  (``x123``, ``ext. 45``, ``#12``); about 2 % invalid (seven digits, a digit short, area code
  123, ``n/a``). Colleagues share a company main line; relatives share a home line.
- E-mails: about 6 % capitalised, 3 % padded, 1.5 % syntactically invalid.
- States and countries: about 20 % spelled out or abbreviated (``Calif.``, ``N.Y.``,
  ``PQ``; ``USA``, ``U.S.``, ``Deutschland``, ``England``), a few in lower case or padded.
- Stray whitespace in about 4 % of names, company names and cities; names in all capitals or
  lower case in about 5 % of contacts.
- Tags: about 35 % of contacts have tags; about a quarter of those use legacy synonym options
  (older records more often).
- Open leads and open deals: some with an open task, many with none, some with only completed
  tasks. ``hubspot_owner_id`` is missing on about 10 % of contacts, 12 % of companies, 2 % of
  deals, 1 % of tasks.

Ground truth (``ds.truth.to_json()``; ``ds.truth.write(path)`` writes it as JSON)
---------------------------------------------------------------------------------
::

    {"generator": "syncd-sandbox", "version": 1, "seed": S, "records": N,
     "now": "2025-03-14T15:09:26.535Z",
     "duplicate_clusters": {"contacts": [["101", "2043"], ...], "companies": [...]},
     "hard_negatives": {"contacts": [["idA", "idB"], ...], "companies": [...]},
     "due_fixes": [...],
     "tag_synonyms": {"tags": {"follow_up_needed": ["follow up", ...], ...}}}

- ``duplicate_clusters``: clusters of size >= 2, ids sorted by numeric value, clusters sorted
  by their first id. Two records not in one cluster are different people (companies).
- ``hard_negatives``: pairs built to look alike that are different: colleagues with one
  surname at one company (often on its main line), relatives at one home address (often on one
  home line), namesakes ("John Smith") in different cities; for companies, firms with one name
  stem in different countries with other domains. Not exhaustive (random namesakes occur).
- ``due_fixes``, in record-id order per type, then the follow-ups:

  - ``{"policy": "normalize", "object_type", "record_id", "field", "old", "new", "issue"}``
    for every value of ``firstname``, ``lastname``, ``email``, ``hs_additional_emails``,
    ``phone``, ``mobilephone``, ``company``, ``city``, ``state``, ``country`` (contacts) and
    ``name``, ``phone``, ``city``, ``state``, ``country`` (companies) that is not in its clean
    form; every value without an entry is clean. ``issue`` is ``format`` (phone typed another
    way), ``whitespace``, ``case`` (e-mail capitals, lower-case state code, or a name typed in
    caps lock or lower case: ``new`` is the name as the person writes it, e.g. ``MCDONALD`` ->
    ``McDonald``, which a policy can only approximate), ``variant`` (state or country written
    out or abbreviated) or ``invalid``: then ``"new": null`` and ``"flag": "invalid"`` (the value
    cannot be repaired; flag it).
  - ``{"policy": "tags", ..., "field": "tags", "old", "new", "issue": "synonym"}``: ``new``
    has each synonym replaced by its canonical value, repeats dropped, in order of first
    appearance (compare as sets).
  - ``{"policy": "follow_up", "object_type": "contacts" | "deals", "record_id", "issue"}`` for
    each open lead (``hs_lead_status`` NEW, OPEN, IN_PROGRESS, ATTEMPTED_TO_CONTACT) and each
    open deal (stage not closedwon/closedlost) with no associated task whose status is other
    than COMPLETED; ``issue`` is ``no_tasks`` or ``only_completed_tasks``. Judged per record:
    a task on another record of the same duplicate cluster does not count.

- ``tag_synonyms``: per multi-select property, canonical option value -> synonym option
  values. All of them are options of ``tags`` in ``schema.PROPERTIES`` (some hidden).

Clean forms
-----------
- Phone: E.164 as ``phonenumbers.format_number(n, PhoneNumberFormat.E164)`` gives it and as
  HubSpot's phone validation stores it; an extension follows in RFC 3966 syntax:
  ``(415) 555-0123 x45`` -> ``+14155550123;ext=45`` (``phonenumbers.parse`` reads that form
  back). Numbers in a national form appear only where the record's clean country names the
  region to parse them in, or, for North American numbers, where the country is US, CA or
  empty: parse with region = the record's clean country, defaulting to US.
- E-mail: trimmed and lower-cased; ``hs_additional_emails``: each item so, ``;``-joined.
- State (US and CA only): ISO 3166-2 subdivision code without the country prefix (``CA``,
  ``NY``, ``DC``, ``ON``, ``QC``). Elsewhere ``state`` may hold a region name (``Bayern``,
  ``Île-de-France``, ``Scotland``): left as it is, never a due fix.
- Country: ISO 3166-1 alpha-2 (``US``, ``CA``, ``GB``, ``DE``, ``FR``).
- Free text (names, company, city): stripped, inner whitespace runs collapsed to one space.
- Web site: the bare domain (``acme.com``); ``https://www.acme.com`` and the like are due fixes.

Varied on purpose and not a due fix: legal suffixes of company names, street-type
abbreviations, which of several e-mails or phones a record shows.
The nickname table (``nicknames.csv``, loaded as ``names.NICKNAMES``) is the generator's data;
a policy scored against this truth should bring its own.
"""

from __future__ import annotations

from sandbox.generator.build import generate
from sandbox.generator.model import Dataset, GeneratedObject, GroundTruth

__all__ = ["Dataset", "GeneratedObject", "GroundTruth", "generate"]
