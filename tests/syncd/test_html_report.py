"""The HTML report: plan diff and health charts, rendered by a real headless Chromium.

Under CI (``CI`` set, as ``.ci/run`` runs, which installs it) Chromium is required and its
absence fails the browser tests. Elsewhere they are skipped with a message when it is missing
(``make test`` on a bare machine), or always with ``SYNCD_SKIP_BROWSER=1``. Install it with
``apt-get install -y chromium``.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from model.records import Cursor, PullBatch, Record
from policies.registry import PoliciesSettings, build_policies
from state.store import SqlStateStore, open_store
from syncd.html_report import render_html_report, write_html_report
from syncd.plan import compose
from syncd.quality import health

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script>"
OLD = "2022-01-10T10:00:00Z"


def contact(record_id: str, at: datetime, **props: str | None) -> Record:
    base: dict[str, str | None] = {
        "firstname": "Ann",
        "lastname": "Lee",
        "email": f"ann{record_id}@example.com",
        "last_activity_at": (at - timedelta(days=3)).isoformat(),
        "updated_at": at.isoformat(),
    }
    return Record("contacts", record_id, base | props, at)


def crm(at: datetime, level: int) -> list[Record]:
    """A small messy CRM; at a higher ``level`` a person cleaned more of it since."""
    return [
        contact("1", at, firstname="Jane", lastname="Doe", email="jane@acme.com", phone="555"),
        contact("2", at, firstname="Jane", lastname="Doe", email="JANE@ACME.COM "),
        contact("3", at, lastname=EVIL, email="ok@x.com" if level >= 1 else "not-an-email"),
        contact(
            "4", at, email="bo@x.com" if level >= 2 else None, lead_status="NEW", lead_open="true"
        ),
        contact("5", at, last_activity_at=OLD, updated_at=OLD),
        contact("6", at, phone="n/a", city="  Boston ", lastname=None),
        contact("7", at, email="Jane@Acme.com", firstname="Jane", lastname="Doe")
        if level < 3
        else contact("7", at, firstname="Max", lastname="Roe"),
    ]


def build_store(url: str, runs: int = 4) -> SqlStateStore:
    """A store with ``runs`` planned and measured runs of source ``hs``, as the engine does."""
    store = open_store(url)
    store.ensure_source("hs", "hubspot", T0)
    policies = build_policies(PoliciesSettings())
    for n in range(runs):
        at = T0 + timedelta(days=n)
        run_id, plan_id = f"run{n}", f"plan{n}"
        store.start_run(run_id, "hs", at, dry_run=True)
        batch = PullBatch("contacts", tuple(crm(at, n)), Cursor(at))
        store.store_batch("hs", run_id, batch)
        snapshot = store.snapshot("hs", at)
        snapshot = replace(snapshot, now=at)
        changes = compose([c for p in policies for c in p(snapshot)])
        store.save_plan(plan_id, "hs", run_id, at, store.baseline_summary("hs"), changes)
        store.save_health(run_id, "hs", at, health(snapshot, changes).metrics())
        store.finish_run(run_id, at, "succeeded", {})
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStateStore]:
    opened = build_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def test_page_holds_plan_charts_and_escapes_crm_values(
    store: SqlStateStore, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    text = write_html_report(store, ["hs"], path, now=T0 + timedelta(days=3))
    assert path.read_text(encoding="utf-8") == text
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text  # the CRM's lastname is escaped, and the page has no script
    assert "&lt;script&gt;" in text
    for forbidden in ("http://", "https://", "src=", "@import", "url("):
        assert forbidden not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Plan <code>plan3</code>" in text
    assert text.count("<svg") == 5
    assert "Duplicate share" in text
    # what changed: run 3 against run 2 (contact 7 is no longer a duplicate of 1)
    assert 'class="better">Duplicate share: 42.9 % → 28.6 % (−14.3 pts)' in text
    two = build_store("sqlite:///:memory:", 2)
    try:
        first_two = render_html_report(two, ["hs"], now=T0)
    finally:
        two.close()
    assert 'class="better">Invalid e-mails: 1 → 0 (−1)' in first_two
    one = build_store("sqlite:///:memory:", 1)
    try:
        assert "First measured run" in render_html_report(one, ["hs"], now=T0)
    finally:
        one.close()


def test_a_source_without_plans_or_figures(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        store.ensure_source("empty", "hubspot", T0)
        text = render_html_report(store, ["empty", "never"], now=T0)
        assert 'Source never</h2><p class="muted">No run yet' in text
        assert "No plan yet." in text
        assert "No data-quality figures yet" in text
        assert "<svg" not in text
    finally:
        store.close()


# -- in a real browser ----------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        message = (
            "Chromium is not installed: the HTML report must be checked in a real browser. "
            "Install it (apt-get install -y chromium) or set SYNCD_SKIP_BROWSER=1 to skip."
        )
        if os.environ.get("CI") and os.environ.get("SYNCD_SKIP_BROWSER") != "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _browse(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB bytes of every pixel of a PNG (8-bit RGB/RGBA, not interlaced)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour in {2, 6}
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for r in range(height):
        kind, line = (
            raw[r * (stride + 1)],
            bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    pixels = [row[i : i + 3] for row in rows for i in range(0, stride, bpp)]
    return width, height, pixels


def test_renders_in_headless_chromium(store: SqlStateStore, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_html_report(store, ["hs"], page, now=T0 + timedelta(days=3))
    dom = _browse(page, tmp_path / "profile-dom", "--dump-dom").stdout
    assert "syncd data-quality report" in dom
    assert dom.count("<svg") == 5
    assert dom.count("<polyline") >= 5
    assert 'class="value"' in dom  # numbers on the points
    assert "&lt;script&gt;alert" in dom  # shown as text, never run
    assert "<del>'  Boston '</del> → <ins>'Boston'</ins>" in dom
    assert "Missing required fields (required)" in dom
    assert "required field lastname is empty" in dom
    assert "Stale records (retire)" in dom
    assert "no activity since 2022-01-10" in dom

    shot = tmp_path / "report.png"
    _browse(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,1600")
    data = shot.read_bytes()
    assert len(data) > 30_000
    width, height, pixels = _png_pixels(data)
    assert (width, height) == (1280, 1600)
    colours = set(pixels[::97])
    assert len(colours) > 20  # text, charts in several colours: not a blank page
    assert bytes.fromhex("2563eb") in set(pixels) or bytes.fromhex("ea580c") in set(pixels)
    if os.environ.get("SYNCD_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["SYNCD_KEEP_SCREENSHOT"])
