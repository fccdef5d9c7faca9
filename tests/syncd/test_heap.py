"""The cyclic collector paused during a run, and back on (or off) as it was after."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from syncd import heap
from syncd.heap import collector_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    gc.unfreeze()  # whatever an engine that remembers froze in an earlier test
    yield
    (gc.enable if was else gc.disable)()
    gc.unfreeze()  # what a settling run froze goes back to the collector


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_comes_back_only_when_the_last_holder_is_done() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_runs_on_threads_share_the_pause() -> None:
    gc.enable()
    first_in, second_out = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_out.wait(10)
            seen.append(gc.isenabled())  # the other run is done, this one still holds it

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(10)
    with collector_paused():
        pass
    second_out.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_runs_that_overlap_without_end_still_collect(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.enable()
    passes: list[int] = []
    monkeypatch.setattr(heap.gc, "collect", lambda *a: passes.append(1) or 0)
    clock = [1000.0]
    monkeypatch.setattr(heap.time, "monotonic", lambda: clock[0])
    with collector_paused():  # a long run holds it throughout
        with collector_paused():
            clock[0] += heap.MAX_PAUSE_SECONDS / 2
        assert passes == []  # not yet long enough
        with collector_paused():
            clock[0] += heap.MAX_PAUSE_SECONDS
        assert passes == [1]  # one full pass by the run that ended
        with collector_paused():
            clock[0] += 1
        assert passes == [1]  # the clock starts again from that pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_cycle_made_while_paused_is_collected_after() -> None:
    gc.enable()

    class Node:
        other: object = None

    with collector_paused():
        node = Node()
        node.other = node
        alive = sum(isinstance(o, Node) for o in gc.get_objects())
        del node
    assert alive == 1
    gc.collect()
    assert not any(isinstance(o, Node) for o in gc.get_objects())


class _Node:
    other: object = None


def _cycle() -> weakref.ref[_Node]:
    """A cycle, dropped at once: only the collector frees it; a reference that says when."""
    node = _Node()
    node.other = node
    return weakref.ref(node)


def _frozen(thing: object) -> bool:
    return gc.get_freeze_count() > 0 and not any(o is thing for o in gc.get_objects())


def test_a_settling_run_leaves_what_is_alive_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.enable()
    monkeypatch.setattr(heap._PAUSE, "frozen", None)
    passes: list[bool] = []  # whether the collector was on for each pass

    def seen(phase: str, _: object) -> None:
        if phase == "start":
            passes.append(gc.isenabled())

    gc.callbacks.append(seen)
    try:
        with collector_paused(settle=True):  # the first: a full pass, then frozen
            garbage = _cycle()
            kept = _Node()  # what the engine keeps for its next run
    finally:
        gc.callbacks.remove(seen)
    assert garbage() is None
    assert _frozen(kept)  # the collector's passes leave it alone
    counted = heap._PAUSE.frozen
    assert counted is not None
    assert 0 <= counted - gc.get_freeze_count() < 100  # (a few freed since)
    assert gc.isenabled()
    assert passes
    assert not any(passes)  # no pass on the way out but the settling one, collector off
    dropped = weakref.ref(kept)
    del kept
    assert dropped() is None  # reference counting still frees what is frozen


def test_cycles_among_frozen_objects_wait_for_the_frozen_to_grow_by_a_quarter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.enable()
    monkeypatch.setattr(heap._PAUSE, "frozen", None)
    with collector_paused(settle=True):  # the first settling run: a full pass
        a, b = _Node(), _Node()
    assert _frozen(a)
    with collector_paused(settle=True):
        garbage = _cycle()  # a run's own cycle...
    assert garbage() is None  # ... the young pass on the way out frees it
    a.other, b.other = b, a  # two frozen objects become a cycle, then garbage
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is not None  # no pass looks at frozen objects...
    with collector_paused(settle=True):
        pass
    assert gone() is not None  # ... not even a settling run's young one
    base = heap._PAUSE.frozen
    assert base is not None
    with collector_paused(settle=True):  # a run that leaves a third more objects alive
        grown = [_Node() for _ in range(base // 3 + 1)]
    assert gone() is None  # a full pass, everything thawed first
    assert _frozen(grown[0])  # and frozen again after it, counted anew
    counted = heap._PAUSE.frozen
    assert counted is not None
    assert 0 <= counted - gc.get_freeze_count() < 100
    assert counted > base


def test_a_run_that_does_not_settle_freezes_nothing() -> None:
    gc.enable()
    with collector_paused():
        kept = _Node()
    assert gc.get_freeze_count() == 0
    assert any(o is kept for o in gc.get_objects())


def test_the_command_still_says_everything_before_exiting() -> None:
    # main() freezes the heap on the way out: output flushed, exit code kept
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("syncd ")
    bad = subprocess.run(
        [sys.executable, "-m", "syncd", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "no-such-command" in bad.stderr


def test_a_one_off_command_keeps_the_collector_off_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.cli import ONE_OFF, app
    from syncd.cli import cycle as cli_cycle
    from tests.syncd.test_csv_mode import generated_export

    gc.enable()
    rendering: list[bool] = []
    said = cli_cycle.summary_line

    def spy(*args: Any, **kwargs: Any) -> str:
        rendering.append(gc.isenabled())  # after the run: the engine's own pause has ended
        return said(*args, **kwargs)

    monkeypatch.setattr(cli_cycle, "summary_line", spy)
    export = generated_export(tmp_path / "export.csv", records=50)
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["plan", "--csv", str(export), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert rendering == [False]
    assert gc.isenabled()  # the command is done: as it was before
    assert {"plan", "run", "apply"} <= ONE_OFF
    assert "serve" not in ONE_OFF  # a daemon collects as usual


def test_free_memory_goes_back_through_the_c_librarys_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: calls.append)
    heap.give_back_free_memory()
    assert calls == [0]  # malloc_trim(0): every arena, nothing kept at the top
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)  # a C library without one (musl)
    heap.give_back_free_memory()
    assert calls == [0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_glibcs_trim_is_found_and_returns_freed_pages() -> None:
    code = (
        "import ctypes, os\n"
        "from syncd import heap\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "keep, drop = [], []\n"
        "for n in range(200_000):\n"  # small blocks, every other one kept: no top to trim
        "    (keep if n % 50 == 0 else drop).append(ctypes.create_string_buffer(2000))\n"
        "del drop\n"
        "before = rss()\n"
        "heap.give_back_free_memory()\n"
        "print(heap._malloc_trim() is not None, (before - rss()) // 2**20)\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parents[2])  # fmt: skip
    there, freed_mb = found.stdout.split()
    if there == "False":
        pytest.skip("this C library has no malloc_trim (not glibc)")
    assert int(freed_mb) > 100  # some 380 MB were freed in the middle of the heap
