"""The splink_datasets loader: columns to contact fields, missing values, true clusters."""

from __future__ import annotations

from pathlib import Path

from bench.splink_sets import FAKE, fake, labelled


def test_rows_become_contacts_and_clusters_of_two_or_more() -> None:
    rows = [
        {"unique_id": "1", "cluster": "a", "first_name": " Robert ", "surname": "Allen",
         "city": float("nan"), "email": "ra@x.net", "dob": "1971-06-24"},
        {"unique_id": "2", "cluster": "a", "first_name": "Rob", "surname": None, "city": "Hull",
         "email": "", "dob": None},
        {"unique_id": "3", "cluster": "b", "first_name": "Grace", "surname": "Kelly",
         "city": "Leeds", "email": None},
    ]  # fmt: skip
    data = labelled("t", rows, FAKE)
    first, second, third = data.records
    assert first.properties == {
        "firstname": "Robert", "lastname": "Allen", "city": None, "email": "ra@x.net",
        "birthdate": "1971-06-24",
    }  # fmt: skip
    assert second.properties == {"firstname": "Rob", "lastname": None, "city": "Hull",
                                 "email": None, "birthdate": None}  # fmt: skip
    assert third.id == "3"
    assert data.clusters == [["1", "2"]]
    assert data.true_pairs == {("1", "2")}


def test_fake_reads_the_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "fake_1000.csv"
    path.write_text(
        "unique_id,first_name,surname,dob,city,email,cluster\n"
        "0,Robert,Alan,1971-06-24,,robert255@smith.net,0\n"
        "1,Robert,Allen,1971-05-24,,roberta25@smith.net,0\n",
        encoding="utf-8",
    )
    data = fake(path)
    assert [r.properties["lastname"] for r in data.records] == ["Alan", "Allen"]
    assert data.records[0].properties["city"] is None
    assert data.records[0].properties["birthdate"] == "1971-06-24"
    assert data.true_pairs == {("0", "1")}
    assert "birthdate" not in fake(path, birthdate=False).records[0].properties
