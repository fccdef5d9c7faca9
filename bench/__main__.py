"""Run every benchmark in turn: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

from bench import apply, cycle, edits, quality

if __name__ == "__main__":
    quality.main([])
    cycle.main([])
    edits.main([])
    apply.main([])
    apply.main(["--records", "300", "--fault-rate", "0.2", "--drop-rate", "0.01"])
