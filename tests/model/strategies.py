"""Hypothesis strategies for the changes plans carry, shared by the model and push tests."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from model.changes import Archive, Change, CreateTask, Flag, Merge, Update

#: Text a plan may hold: anything but lone surrogates (not encodable, so never read from a CRM).
text = st.text(st.characters(codec="utf-8"), max_size=12)
#: Values drawn from a few, so that equal values (old = new, a value already there) are common.
values = st.sampled_from([None, "", "a", "b", "c"]) | text
ids = st.text("0123456789", min_size=1, max_size=4)
field_names = st.sampled_from(["email", "phone", "firstname", "lastname", "company", "city"])
object_types = st.sampled_from(["contacts", "companies", "deals"])
scores = st.floats(0, 1, allow_nan=False)


@st.composite
def updates(draw: st.DrawFn) -> Update:
    return Update(
        draw(ids),
        draw(object_types),
        draw(text),
        draw(text),
        draw(ids),
        draw(field_names),
        draw(values),
        draw(values),
    )


@st.composite
def merges(draw: st.DrawFn) -> Merge:
    chosen = draw(st.dictionaries(field_names, values, max_size=3))
    return Merge(
        draw(ids),
        draw(object_types),
        draw(text),
        draw(text),
        draw(ids),
        tuple(draw(st.lists(ids, min_size=1, max_size=3, unique=True))),
        draw(scores),
        evidence=draw(st.dictionaries(field_names, scores, max_size=3)),
        field_values=chosen,
        kind=draw(st.sampled_from(["merge", "review"])),
        field_baseline={k: draw(values) for k in chosen if draw(st.booleans())},
    )


@st.composite
def tasks(draw: st.DrawFn) -> CreateTask:
    return CreateTask(
        draw(ids),
        draw(object_types),
        draw(text),
        draw(text),
        draw(ids),
        draw(text),
        draw(st.none() | ids),
        draw(st.dates(date(2000, 1, 1), date(2100, 1, 1))),
        body=draw(text),
    )


@st.composite
def flags(draw: st.DrawFn) -> Flag:
    return Flag(
        draw(ids),
        draw(object_types),
        draw(text),
        draw(text),
        draw(ids),
        draw(st.none() | field_names),
        draw(values),
    )


@st.composite
def archives(draw: st.DrawFn) -> Archive:
    return Archive(draw(ids), draw(object_types), draw(text), draw(text), draw(ids))


changes: st.SearchStrategy[Change] = st.one_of(updates(), merges(), tasks(), flags(), archives())
