"""``syncd plan --csv FILE.csv``: clean a spreadsheet export with no configuration file.

:func:`plan_csv` runs one cycle of the real engine over a CSV file: the default policies
(``PoliciesSettings()``), a throw-away SQLite state store in a temporary directory, and a
:class:`~connectors.csv.CsvConnector` as the source. A dry run writes neither the rows nor the
plan's changes into that store (``Engine.keep_run``): nothing reads them back. With ``apply``
the plan is pushed through ``Engine.run_once``: the connector writes ``<stem>.cleaned.csv``,
``<stem>.merge-map.csv`` and ``<stem>.tasks.csv`` beside the input; the input itself is never
modified.

:class:`~connectors.csv.CsvSettings` is the CSV connector's settings model, the one a configured
``csv`` source is validated with; the source here is built the same way.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from connectors.base import Connector
from connectors.csv import CsvConnector, CsvSettings
from policies.registry import PoliciesSettings
from state.store import open_store
from syncd.config import (
    ApplyConfig,
    Ceiling,
    Config,
    Limits,
    LoggingConfig,
    SourceConfig,
    StoreConfig,
)
from syncd.engine import Engine, peak_mb
from syncd.files import write_private
from syncd.logging import get_logger
from syncd.plan import Plan
from syncd.report import Format, rendered
from syncd.sources import build_connector

log = get_logger(__name__)
SOURCE_NAME = "csv"
_OPEN = Ceiling(max=10_000_000, share=1.0)
#: In CSV mode the result is a new file beside the input, so no ceiling holds a push back.
CSV_MODE_APPLY = ApplyConfig(
    limits=Limits(updates=_OPEN, merges=_OPEN, tasks=_OPEN, archives=_OPEN)
)


def plan_csv(
    csv_path: Path,
    object_type: str = "contacts",
    *,
    fmt: Format,
    output: Path | None,
    limit: int | None,
    apply: bool = False,
    now: Callable[[], datetime],
    new_id: Callable[[], str],
    id_column: str | None = None,
    columns: Mapping[str, str] | None = None,
    default_region: str = "US",
    encoding: str = "utf-8",
    policies: PoliciesSettings | None = None,
) -> Plan:
    """Plan (and with ``apply`` push) one CSV file; write the rendered plan; return the plan.

    The rendering goes to ``output`` or, without it, to standard output. The plan's ``stats``
    gain ``skipped_rows`` (``[{"row", "reason"}]``: rows without an id, with a repeated id or the
    wrong number of fields), ``unused_columns`` (headers no field is read from, carried through
    untouched) and, with ``apply``, ``outputs`` (the files written) and ``pushed`` (outbox
    statuses). Raises what the engine raises (``ConfigError`` for a missing id column or a
    mapped column not in the header, ``SourceFatalError`` for an unreadable file).
    ``policies`` replaces the default policy settings (``plan --csv --skip`` disables some).
    """
    path = csv_path.resolve()
    settings = CsvSettings.model_validate(
        {
            "path": path,
            "object_type": object_type,
            "id_column": id_column,
            "columns": dict(columns or {}),
            "encoding": encoding,
        }
    )
    csv_source = SourceConfig(
        connector="csv", default_region=default_region, apply=CSV_MODE_APPLY, settings=settings
    )
    built: list[CsvConnector] = []

    def factory(config: Config, name: str, source: SourceConfig) -> Connector:
        connector = build_connector(config, name, source)
        assert isinstance(connector, CsvConnector)
        if not apply:
            connector.plan_only()  # the rows go once pulled
        built.append(connector)
        return connector

    with tempfile.TemporaryDirectory(prefix="syncd-csv-") as tmp:
        config = Config(
            store=StoreConfig(url=f"sqlite:///{Path(tmp) / 'state.db'}"),
            logging=LoggingConfig(level="warning"),
            sources={SOURCE_NAME: csv_source},
            policies=policies or PoliciesSettings(),
            base_dir=path.parent,
        )
        store = open_store(config.store_url())
        try:
            # a dry run's store goes with the temporary folder: nothing reads its records or
            # its plan back
            engine = Engine(config, store, now, new_id, factory, keep_run=apply)
            stats: dict[str, object] = {}
            if apply:
                result = engine.run_once(SOURCE_NAME)
                assert result.plan is not None  # run_once always makes a plan
                plan = result.plan
                settings = built[-1].settings
                stats["outputs"] = {
                    "cleaned": str(settings.cleaned_path),
                    "merge_map": str(settings.merge_map_path),
                    "tasks": str(settings.tasks_path),
                }
                stats["pushed"] = dict(result.pushes[-1].statuses)
            else:
                plan = engine.plan(SOURCE_NAME)
        finally:
            store.close()
    skipped = [{"row": row, "reason": why} for row, why in built[0].skipped] if built else []
    unused = list(built[0].unused_columns) if built else []
    plan = replace(
        plan,
        stats={**plan.stats, "skipped_rows": skipped, "unused_columns": unused, **stats},
    )
    t0, cpu0 = time.monotonic(), time.process_time()
    parts = rendered(plan, fmt, limit=limit)
    if output is None:
        sys.stdout.writelines(parts)
    else:
        write_private(output, parts)
    log.info(
        "plan rendered",
        format=fmt,
        seconds=round(time.monotonic() - t0, 3),
        cpu_seconds=round(time.process_time() - cpu0, 3),
        peak_mb=peak_mb(),
    )
    return plan
