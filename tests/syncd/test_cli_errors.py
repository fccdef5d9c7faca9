"""What a person meets first when something is wrong: one line saying what and what to do, and
an exit code a script can use (2 configuration or usage, 1 the run failed), never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from state.store import open_store
from tests.syncd.cli_support import one_line, serving, syncd, write_config

UNUSED = "http://127.0.0.1:9"  # nothing listens there; these commands fail before a pull


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")


def _pg(pg_admin_engine: sa.Engine, **parts: object) -> str:
    return pg_admin_engine.url.set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parts", "code", "said"),
    [
        ({"port": 1}, 1, "cannot reach the PostgreSQL state store at 127.0.0.1:1 (Connection"),
        ({"database": "no_such_db"}, 2, "has no database 'no_such_db': create it"),
        ({"username": "no_such_role"}, 2, "has no role 'no_such_role': create it"),
    ],
)
def test_postgresql_problems_are_one_line(
    tmp_path: Path, pg_admin_engine: sa.Engine, parts: dict[str, object], code: int, said: str
) -> None:
    config = write_config(tmp_path, {"hubspot": UNUSED}, store=_pg(pg_admin_engine, **parts))
    result = syncd("plan", "-c", config)
    assert result.exit_code == code
    assert said in one_line(result.stderr)
    assert result.stdout == ""


def test_sqlite_problems_are_one_line(tmp_path: Path) -> None:
    missing = write_config(tmp_path, {"hubspot": UNUSED}, store="sqlite:///absent/state.db")
    result = syncd("plan", "-c", missing)
    assert result.exit_code == 2
    assert f"the state store's folder {tmp_path / 'absent'} does not exist" in one_line(
        result.stderr
    )

    (tmp_path / "notes.db").write_text("this is not a database\n" * 100)
    not_sqlite = write_config(tmp_path, {"hubspot": UNUSED}, store="sqlite:///notes.db")
    result = syncd("runs", "-c", not_sqlite)
    assert result.exit_code == 2
    assert "is not a SQLite database" in one_line(result.stderr)


def test_an_unsupported_store_is_refused_by_check_config_too(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"hubspot": UNUSED}, store="mysql://me@db/syncd")
    checked = syncd("check-config", "-c", config)
    assert checked.exit_code == 2
    assert "store.url: found 'mysql://me@db/syncd'; expected sqlite:///PATH or" in checked.stderr
    assert "(a 'mysql' state store is not supported)" in checked.stderr
    assert syncd("plan", "-c", config).exit_code == 2


def test_csv_naming_a_missing_file(tmp_path: Path) -> None:
    result = syncd("plan", "--csv", tmp_path / "contacts.csv")
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        f"--csv {tmp_path / 'contacts.csv'}: the file does not exist; give the path of a CSV export"
    )


def test_output_into_a_missing_folder_says_the_saved_plan(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        result = syncd("plan", "-c", config, "--format", "json", "-o", tmp_path / "no" / "p.json")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    [saved] = store.list_plans("hubspot")
    store.close()
    assert f"the folder {tmp_path / 'no'} does not exist" in line
    assert f"plan {saved.id} is saved" in line
    assert f"syncd show {saved.id} -o {tmp_path / 'no' / 'p.json'}" in line


def test_a_busy_sandbox_port_fails_before_generating_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_data(**_: object) -> None:
        raise AssertionError("data generated before the port was bound")

    monkeypatch.setattr("sandbox.generator.generate", no_data)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = syncd("sandbox", "hubspot", "--port", str(port))
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        f"port {port} on 127.0.0.1 is in use (another sandbox?): stop it, or pass --port N "
        "(--port 0 takes any free port)"
    )


def test_an_id_of_the_wrong_kind_is_named(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        planned = json.loads(syncd("plan", "-c", config, "--format", "json").stdout)
        plan_id, run_id = planned["plan_id"], planned["run_id"]

        undo = syncd("undo", plan_id, "-c", config)
        assert undo.exit_code == 2
        assert one_line(undo.stderr) == (
            f"{plan_id} is a plan id, not a run id: undo takes the id of a run; no run has "
            "pushed it"
        )
        applied = syncd("apply", run_id, "-c", config)
        assert applied.exit_code == 2
        assert one_line(applied.stderr) == (
            f"{run_id} is a run id, not a plan id: it made plan {plan_id} (syncd plans lists plans)"
        )
        shown = syncd("show", "nonsense", "-c", config)
        assert shown.exit_code == 2
        assert one_line(shown.stderr) == "nonsense is not a plan id (syncd plans lists them)"


def test_undo_of_a_pushed_plan_names_the_run_that_pushed_it(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        planned = json.loads(syncd("plan", "-c", config, "--format", "json").stdout)
        pushed = json.loads(
            syncd("apply", planned["plan_id"], "-c", config, "--only", "tags", "-f", "json").stdout
        )
        undo = syncd("undo", planned["plan_id"], "-c", config)
    assert undo.exit_code == 2
    assert f"run {pushed['run_id']} pushed it: syncd undo {pushed['run_id']}" in undo.stderr


def test_a_damaged_store_stops_every_command(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        assert syncd("plan", "-c", config, "-f", "json").exit_code == 0
        assert syncd("doctor", "-c", config).exit_code == 0
        path = tmp_path / "state.db"
        size = path.stat().st_size
        with path.open("r+b") as file:
            file.seek(size // 2)
            file.write(b"\xde\xad\xbe\xef" * 4096)
        for command in (["plan"], ["runs"], ["plans"], ["audit"], ["review"], ["run", "--once"]):
            result = syncd(*command, "-c", config)
            assert result.exit_code == 1, (command, result.output)
            line = one_line(result.stderr)
            assert "is damaged (" in line, line  # the cause SQLite gives depends on the page hit
            assert "): restore it from a backup" in line, line
        doctor = syncd("doctor", "-c", config)
    assert doctor.exit_code == 1
    assert "FAILED: integrity:" in doctor.stderr


def test_check_config_connect_tries_the_store_and_each_token(tmp_path: Path) -> None:
    with serving(tokens={"right"}) as sandbox:
        base_url = sandbox.base_url
        config = write_config(tmp_path, {"hubspot": base_url})
        wrong = syncd("check-config", "-c", config, "--connect")
        assert wrong.exit_code == 2
        assert "ok: store:" in wrong.stdout
        assert "FAILED: source hubspot: HubSpot answered 401" in wrong.stderr

        with pytest.MonkeyPatch.context() as env:
            env.setenv("HUBSPOT_TOKEN", "right")
            right = syncd("check-config", "-c", config, "--connect")
    assert right.exit_code == 0, right.output
    assert f"ok: source hubspot: token accepted by HubSpot at {base_url}" in right.stdout


def test_check_config_connect_says_when_the_store_is_unreachable(
    tmp_path: Path, pg_admin_engine: sa.Engine
) -> None:
    config = write_config(tmp_path, {}, store=_pg(pg_admin_engine, port=1))
    config.write_text(config.read_text() + '[sources.csv]\nconnector = "csv"\npath = "c.csv"\n')
    (tmp_path / "c.csv").write_text("id,email\n1,a@x.com\n")
    result = syncd("check-config", "-c", config, "--connect")
    assert result.exit_code == 2
    assert "FAILED: store: cannot reach the PostgreSQL state store at 127.0.0.1:1" in result.stderr
    assert f"ok: source csv: {tmp_path / 'c.csv'} readable: 1 rows" in result.stdout
