"""`session-backup estimate`: what keeping every session costs on BigQuery + GCS, per strategy.

The model is deliberately small and written out in full so that a reader can redo it by hand:

- **Storage.** Each strategy stores, per scope, a first session and then a steady number of
  bytes per later session, both as multiples of one session's bytes. Those multiples are taken
  from the benchmark's stored-bytes curve (docs/bench/results.json, Parquet zstd bytes) and
  applied to the logical bytes of one session (the ratio stored/landed is assumed to be the
  same in logical bytes as in Parquet bytes). Deltas scale linearly with churn.
- **Billing classes.** Append-only data partitioned by a date that never changes again
  (History by close date; full, incremental and differential copies by session date) becomes
  BigQuery long-term storage 90 days after it was written. Tables rewritten by every run (Head,
  a dbt snapshot's table) stay active. With cold tiering, History older than the tier age is
  billed at the GCS class's price instead, with its minimum storage duration and retrieval fee.
- **Queries.** Bytes billed per backup run follow the per-run formula that the BigQuery cost
  model measured for History (docs/bigquery.md, tests/support/bigquery_cost.py), applied with
  the same billing rules to the other strategies; restores for back-tests and explanations
  are billed by what each strategy has to read for one session.

A month is 30 days; day d's bytes are billed for that day at price / 30 per GiB-month.
Nothing here talks to a warehouse: it runs in milliseconds and is tested by hand arithmetic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from session_backup.errors import BackupError

if TYPE_CHECKING:
    from session_backup.cli.context import Context

GIB = 2**30
TIB = 2**40
MIB = 2**20
DAYS_PER_MONTH = 30

STRATEGIES = ("full", "incremental", "differential", "snapshot", "history", "history_cold")
LABELS = {
    "full": "full",
    "incremental": "incremental",
    "differential": "differential",
    "snapshot": "dbt snapshot",
    "history": "Head/History",
    "history_cold": "Head/History + cold",
}

# Measured by the BigQuery cost model on the emulator (tests/support/bigquery_cost.py), as
# reported in docs/bigquery.md, "Cost (bytes scanned)": TPC-H SF 0.002, 2 scopes, 5 tables.
# tests/test_estimate.py checks that docs/bigquery.md still states these figures.
COST_MODEL_SOURCE = "docs/bigquery.md (Cost, measured with tests/support/bigquery_cost.py)"
COST_MODEL_SCALE_FACTOR = 0.002
LANDED_SESSION_MIB_AT_COST_MODEL_SCALE = 4.0  # "a landed session ≈ 4.0 MiB"
BACKUP_RUN_MINIMUM_GIB = 1.74  # "1.74 GiB" billed for a tiny run (current write path): the 10 MB minimums of 99 statements
RESTORE_MINIMUM_MIB = 250  # "250 MiB" billed for a one-session restore of the 5 tables

SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(b|kib|mib|gib|tib|kb|mb|gb|tb)?\s*$", re.IGNORECASE)
SIZE_UNITS = {
    "b": 1,
    "kib": 2**10,
    "mib": MIB,
    "gib": GIB,
    "tib": TIB,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
}


def parse_size(text: str | float, option: str) -> float:
    """`200MiB`, `1.5GiB`, `5e8` or a plain number of bytes."""
    if isinstance(text, (int, float)):
        return float(text)
    match = SIZE.match(text or "")
    if not match:
        try:
            return float(text)
        except ValueError:
            raise BackupError(
                f"{option} {text!r}: expected bytes, e.g. 200MiB, 1.5GiB or 209715200."
            ) from None
    return float(match.group(1)) * SIZE_UNITS[(match.group(2) or "b").lower()]


# --------------------------------------------------------------------------------------------
# What the benchmark measured


@dataclass
class StrategyShape:
    """Stored bytes of one strategy, per scope, in multiples of one landed session."""

    first: float  # the first session of a scope (Head, a checkpoint, a first copy)
    delta: float  # a later session at the measured churn (for differential: per position)
    checkpoint_every: int = 0  # incremental / differential only


@dataclass
class BenchFigures:
    source: str
    rows_per_session: int
    churn_pct: float
    churn_source: str
    one_session_bytes: int
    sessions: int
    checkpoint_every: int
    scale_factor: float
    shapes: dict[str, StrategyShape] = field(default_factory=dict)


def _storage_points(results: dict, strategy: str) -> tuple[int, int, int]:
    points = sorted(
        results["strategies"][strategy]["steady"]["storage"], key=lambda point: point["sessions"]
    )
    first, last = points[0], points[-1]
    if first["sessions"] != 1 or last["sessions"] < 2:
        raise BackupError(
            f"{strategy}: the benchmark's storage curve must start at 1 session and reach more."
        )
    return first["bytes"], last["bytes"], last["sessions"]


def load_bench(path: Path) -> BenchFigures:
    """Shapes of every strategy from the benchmark's results.json (scripts/bench.py writes it)."""
    try:
        results = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BackupError(
            f"Benchmark results {path} not found: run `make bench`, or give --bench FILE."
        ) from None
    except json.JSONDecodeError as exc:
        raise BackupError(f"Benchmark results {path} are not JSON: {exc}") from None
    try:
        meta = results["meta"]
        one = int(results["plain"]["one_session_bytes"])
        churn_by_table = meta.get("landing", {}).get("churn_pct", {})
        if "all" in churn_by_table:
            churn, churn_source = float(churn_by_table["all"]), "meta.landing.churn_pct.all"
        else:
            churn, churn_source = float(meta["churn_pct"]), "meta.churn_pct"
        every = int(meta.get("checkpoint_every") or 10)
        figures = BenchFigures(
            source=str(path),
            rows_per_session=int(meta["landing_rows_per_session"]),
            churn_pct=churn,
            churn_source=churn_source,
            one_session_bytes=one,
            sessions=int(meta["sessions"]),
            checkpoint_every=every,
            scale_factor=float(meta["scale_factor"]),
        )
        for strategy in ("full", "history", "snapshot"):
            first, last, n = _storage_points(results, strategy)
            figures.shapes[strategy] = StrategyShape(first / one, (last - first) / ((n - 1) * one))
        for strategy in ("incremental", "differential"):
            first, last, n = _storage_points(results, strategy)
            checkpoints = math.ceil(n / every)
            if strategy == "incremental":
                later = n - checkpoints  # every other session stores its changes once
            else:
                later = sum(
                    (index - 1) % every for index in range(1, n + 1)
                )  # j-th after a checkpoint: j deltas
            figures.shapes[strategy] = StrategyShape(
                first / one, (last - checkpoints * first) / (later * one), every
            )
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
        raise BackupError(
            f"Benchmark results {path} lack a figure the estimate needs ({exc!r})."
        ) from None
    return figures


def load_price_list(settings, path: str | Path | None = None) -> tuple[dict, str]:
    """The price list `tier` uses too (packaged prices.toml, overridden key by key by --prices,
    $SESSION_BACKUP_PRICES or <project>/prices.toml), and where it came from, for the report."""
    from session_backup.cold.prices import load_prices

    prices, source = load_prices(settings, path)
    packaged = Path(__file__).resolve().with_name("prices.toml")
    if Path(source).resolve() == packaged:
        return prices, "src/session_backup/prices.toml"
    return prices, f"{source} over src/session_backup/prices.toml"


# --------------------------------------------------------------------------------------------
# The inputs


@dataclass
class Inputs:
    sessions_per_day: float = 500
    scopes: int = 10
    rows_per_session: float | None = None  # None: the benchmark's
    bytes_per_session: float | None = None  # logical bytes; None: rows x modelled bytes per row
    churn_pct: float | None = None  # None: the benchmark's
    months: int = 24
    retention_months: int = 24
    runs_per_day: float = 24
    restores_per_month: float = 1500
    recheck_sessions: int = 1
    tier_after_days: int = 90
    storage_class: str = "COLDLINE"


def _validate(inputs: Inputs) -> None:
    positive = {
        "--sessions-per-day": inputs.sessions_per_day,
        "--scopes": inputs.scopes,
        "--months": inputs.months,
        "--retention-months": inputs.retention_months,
        "--runs-per-day": inputs.runs_per_day,
    }
    for option, value in positive.items():
        if value is None or value <= 0:
            raise BackupError(f"{option} must be greater than 0 (got {value}).")
    for option, value in {
        "--rows-per-session": inputs.rows_per_session,
        "--bytes-per-session": inputs.bytes_per_session,
        "--churn": inputs.churn_pct,
        "--restores-per-month": inputs.restores_per_month,
        "--recheck-sessions": inputs.recheck_sessions,
        "--tier-after-days": inputs.tier_after_days,
    }.items():
        if value is not None and value < 0:
            raise BackupError(f"{option} must not be negative (got {value}).")
    if inputs.churn_pct is not None and inputs.churn_pct > 100:
        raise BackupError(
            f"--churn is a percentage of rows per session: at most 100 (got {inputs.churn_pct})."
        )


def _input(name: str, value, unit: str, kind: str, source: str) -> dict:
    return {"name": name, "value": value, "unit": unit, "kind": kind, "source": source}


# --------------------------------------------------------------------------------------------
# The model


@dataclass
class _Prices:
    active: float
    long_term: float
    long_term_after_days: int
    query_per_tib: float
    cold: float
    cold_minimum_days: int
    cold_retrieval_per_gib: float


def _prices(prices: dict, storage_class: str) -> _Prices:
    klass = storage_class.lower()
    try:
        bigquery, gcs = prices["bigquery"], prices["gcs"]
        return _Prices(
            active=float(bigquery["active_logical"]),
            long_term=float(bigquery["long_term_logical"]),
            long_term_after_days=int(bigquery["long_term_after_days"]),
            query_per_tib=float(bigquery["query_per_tib"]),
            cold=float(gcs[klass]),
            cold_minimum_days=int(gcs.get("minimum_storage_days", {}).get(klass, 0)),
            cold_retrieval_per_gib=float(gcs.get("retrieval_per_gib", {}).get(klass, 0.0)),
        )
    except KeyError as exc:
        raise BackupError(
            f"The prices file lacks {exc} (see src/session_backup/prices.toml)."
        ) from None


def _day_price(per_gib_month: float, nbytes: float) -> float:
    return nbytes / GIB * per_gib_month / DAYS_PER_MONTH


def _query_price(prices: _Prices, nbytes: float) -> float:
    return nbytes / TIB * prices.query_per_tib


def simulate(inputs: Inputs, bench: BenchFigures, prices: dict) -> dict:
    """Cost per month and cumulative, per strategy; every figure the output shows."""
    _validate(inputs)
    rows = (
        inputs.rows_per_session if inputs.rows_per_session is not None else bench.rows_per_session
    )
    churn = inputs.churn_pct if inputs.churn_pct is not None else bench.churn_pct
    # The cost model's landed session has the bench's rows scaled down to its scale factor.
    cost_model_rows = bench.rows_per_session * COST_MODEL_SCALE_FACTOR / bench.scale_factor
    bytes_per_row = LANDED_SESSION_MIB_AT_COST_MODEL_SCALE * MIB / cost_model_rows
    session_bytes = (
        inputs.bytes_per_session if inputs.bytes_per_session is not None else rows * bytes_per_row
    )
    price = _prices(prices, inputs.storage_class)

    days = inputs.months * DAYS_PER_MONTH
    retention_days = inputs.retention_months * DAYS_PER_MONTH
    scopes = inputs.scopes
    per_scope_per_day = inputs.sessions_per_day / scopes
    churn_factor = churn / bench.churn_pct if bench.churn_pct else 0.0
    per_run = inputs.sessions_per_day / inputs.runs_per_day
    recheck = inputs.recheck_sessions
    restores_per_day = inputs.restores_per_month / DAYS_PER_MONTH
    run_minimum = BACKUP_RUN_MINIMUM_GIB * GIB
    restore_minimum = RESTORE_MINIMUM_MIB * MIB
    # The re-check reads the latest backed-up sessions of the scopes a run backs up, no others.
    touched_scopes = min(per_run, scopes)
    # Head/History reads a run's sessions once (keyed tables: the checksums come from change
    # detection's pass); the other strategies take the checksums in a pass of their own.
    history_landing_read = (per_run + recheck * touched_scopes) * session_bytes
    landing_read = (2 * per_run + recheck * touched_scopes) * session_bytes

    shapes = bench.shapes
    results = {}
    for strategy in STRATEGIES:
        shape = shapes["history" if strategy == "history_cold" else strategy]
        first, delta = shape.first, shape.delta * churn_factor
        every = shape.checkpoint_every
        if strategy == "full":
            steady = shape.delta  # a copy per session does not depend on churn
        elif strategy == "incremental":
            steady = first / every + delta * (every - 1) / every
        elif strategy == "differential":
            steady = first / every + delta * (every - 1) / 2
        else:
            steady = delta
        # Bytes written on day d (all scopes): the first session of each scope on day 1, then the
        # steady bytes per later session. `rewritten` holds the part every run rewrites.
        head_bytes = (
            first * session_bytes * scopes if strategy in ("history", "history_cold") else 0.0
        )
        written = []
        for day in range(1, days + 1):
            sessions_today = per_scope_per_day * scopes
            appended = steady * session_bytes * sessions_today
            if day == 1:  # each scope's first session: into Head, or a first copy / checkpoint
                first_stored = 0.0 if head_bytes else first
                appended += (first_stored - steady) * session_bytes * scopes
            written.append(appended)
        rewritten_table = strategy == "snapshot"  # dbt snapshot MERGEs the whole table every run
        tiered = strategy == "history_cold"

        months = []
        storage_month = query_month = restore_month = 0.0
        cumulative = 0.0
        for day in range(1, days + 1):
            # The bytes of day w are dropped once older than the retention (prune).
            kept = [
                (day - w, written[w - 1]) for w in range(max(1, day - retention_days + 1), day + 1)
            ]
            stored_appended = sum(nbytes for _, nbytes in kept)
            storage = _day_price(price.active, head_bytes)
            cold_bytes = 0.0
            if rewritten_table:
                storage += _day_price(price.active, stored_appended)
            else:
                for age, nbytes in kept:
                    if tiered and age >= inputs.tier_after_days:
                        cold_bytes += nbytes
                    elif age >= price.long_term_after_days:
                        storage += _day_price(price.long_term, nbytes)
                    else:
                        storage += _day_price(price.active, nbytes)
                storage += _day_price(price.cold, cold_bytes)
            if tiered:
                # A cold object pruned before the class's minimum duration is billed for the rest.
                pruned_age = retention_days
                cold_days = pruned_age - inputs.tier_after_days
                if day - retention_days >= 1 and 0 <= cold_days < price.cold_minimum_days:
                    storage += _day_price(price.cold, written[day - retention_days - 1]) * (
                        price.cold_minimum_days - cold_days
                    )

            # Backup runs.
            if strategy in ("history", "history_cold"):
                backup_bytes = inputs.runs_per_day * (
                    history_landing_read + 2 * head_bytes + run_minimum
                )
            elif strategy == "full":
                backup_bytes = inputs.runs_per_day * (landing_read + run_minimum)
            elif strategy == "incremental":
                backup_bytes = inputs.runs_per_day * (
                    landing_read + scopes * session_bytes + run_minimum
                )
            elif strategy == "differential":
                backup_bytes = inputs.runs_per_day * (
                    landing_read + scopes * first * session_bytes + run_minimum
                )
            else:  # snapshot: one session per scope per run; the MERGE reads and bills the whole table
                snapshot_runs = per_scope_per_day
                backup_bytes = snapshot_runs * (
                    (2 + recheck) * scopes * session_bytes + 2 * stored_appended + run_minimum
                )
            if tiered and day > inputs.tier_after_days:
                backup_bytes += written[
                    day - inputs.tier_after_days - 1
                ]  # EXPORT DATA reads it once
            query = _query_price(price, backup_bytes)

            # Restores (back-tests, explanations) of sessions uniformly spread over what is kept.
            kept_days = min(day, retention_days)
            scope_share = stored_appended / scopes
            if strategy == "full":
                restore_bytes = shape.delta * session_bytes
            elif strategy in ("history", "history_cold"):
                restore_bytes = (
                    first * session_bytes + scope_share / 2
                )  # Head + History closed since
            elif strategy == "incremental" or strategy == "differential":
                restore_bytes = (first + delta * (every - 1) / 2) * session_bytes
            else:
                restore_bytes = scope_share  # the scope's whole snapshot table
            restore = restores_per_day * _query_price(price, max(restore_minimum, restore_bytes))
            if tiered and kept_days > inputs.tier_after_days:
                # History read from cold files: closed between the session's day and the tier age.
                history_per_day = scope_share / kept_days
                cold_read = (
                    history_per_day * (kept_days - inputs.tier_after_days) ** 2 / (2 * kept_days)
                )
                restore += restores_per_day * cold_read / GIB * price.cold_retrieval_per_gib

            storage_month += storage
            query_month += query
            restore_month += restore
            if day % DAYS_PER_MONTH == 0:
                total = storage_month + query_month + restore_month
                cumulative += total
                months.append(
                    {
                        "month": day // DAYS_PER_MONTH,
                        "stored_gib": round((stored_appended + head_bytes) / GIB, 3),
                        "cold_gib": round(cold_bytes / GIB, 3),
                        "storage_usd": round(storage_month, 4),
                        "backup_queries_usd": round(query_month, 4),
                        "restore_queries_usd": round(restore_month, 4),
                        "queries_usd": round(query_month + restore_month, 4),
                        "total_usd": round(total, 4),
                        "cumulative_usd": round(cumulative, 4),
                    }
                )
                storage_month = query_month = restore_month = 0.0
        results[strategy] = {
            "label": LABELS[strategy],
            "months": months,
            "cumulative_usd": round(cumulative, 2),
            "cumulative_storage_usd": round(sum(month["storage_usd"] for month in months), 2),
            "cumulative_backup_queries_usd": round(
                sum(month["backup_queries_usd"] for month in months), 2
            ),
            "cumulative_restore_queries_usd": round(
                sum(month["restore_queries_usd"] for month in months), 2
            ),
            "stored_gib_at_end": months[-1]["stored_gib"] if months else 0.0,
            "restore_gib_at_end": round(max(restore_minimum, restore_bytes) / GIB, 3),
        }
    full_total = results["full"]["cumulative_usd"]
    history_total = results["history"]["cumulative_usd"]
    for strategy in STRATEGIES:
        total = results[strategy]["cumulative_usd"]
        results[strategy]["pct_of_full"] = (
            round(100 * total / full_total, 1) if full_total else None
        )
        results[strategy]["times_head_history"] = (
            round(total / history_total, 1) if history_total else None
        )

    hot, cold = results["history"], results["history_cold"]
    cold_tier = {
        "storage_saving_usd": round(
            hot["cumulative_storage_usd"] - cold["cumulative_storage_usd"], 2
        ),
        "extra_query_and_retrieval_usd": round(
            cold["cumulative_backup_queries_usd"]
            + cold["cumulative_restore_queries_usd"]
            - hot["cumulative_backup_queries_usd"]
            - hot["cumulative_restore_queries_usd"],
            2,
        ),
    }
    resolved = {"rows_per_session": rows, "bytes_per_session": session_bytes, "churn_pct": churn}
    return {
        "strategies": results,
        "cold_tier": cold_tier,
        "resolved": resolved,
        "bytes_per_row": bytes_per_row,
    }


def estimate(inputs: Inputs, bench: BenchFigures, prices: dict, prices_source: str) -> dict:
    """The whole report: inputs (measured / modelled / given), assumptions and the figures."""
    model = simulate(inputs, bench, prices)
    resolved = model["resolved"]
    price = _prices(prices, inputs.storage_class)
    bench_file = bench.source
    given = "option"
    defaults = Inputs()

    def assumed(name: str) -> str:
        """A default that is an assumption about production is modelled; a value given is an option."""
        return "modelled" if getattr(inputs, name) == getattr(defaults, name) else given

    listed = [
        _input(
            "sessions_per_day", inputs.sessions_per_day, "sessions", "option", "--sessions-per-day"
        ),
        _input(
            "scopes", inputs.scopes, "scopes", assumed("scopes"), "--scopes (several countries)"
        ),
        _input(
            "rows_per_session",
            resolved["rows_per_session"],
            "rows",
            "measured" if inputs.rows_per_session is None else given,
            f"{bench_file} meta.landing_rows_per_session"
            if inputs.rows_per_session is None
            else "--rows-per-session",
        ),
        _input(
            "bytes_per_session_mib",
            round(resolved["bytes_per_session"] / MIB, 1),
            "MiB (logical)",
            "modelled" if inputs.bytes_per_session is None else given,
            "bytes_per_session / 2^20",
        ),
        _input(
            "bytes_per_session",
            round(resolved["bytes_per_session"]),
            "logical bytes",
            "modelled" if inputs.bytes_per_session is None else given,
            (
                f"rows_per_session x {model['bytes_per_row']:.1f} logical bytes per row: {COST_MODEL_SOURCE}, "
                f"{LANDED_SESSION_MIB_AT_COST_MODEL_SCALE} MiB landed per session at SF {COST_MODEL_SCALE_FACTOR}, "
                f"scaled by rows to the bench's SF {bench.scale_factor}"
            )
            if inputs.bytes_per_session is None
            else "--bytes-per-session",
        ),
        _input(
            "churn_pct",
            resolved["churn_pct"],
            "% of rows per session",
            "measured" if inputs.churn_pct is None else given,
            f"{bench_file} {bench.churn_source}" if inputs.churn_pct is None else "--churn",
        ),
        _input("months", inputs.months, "months", "option", "--months"),
        _input(
            "retention_months", inputs.retention_months, "months", "option", "--retention-months"
        ),
        _input(
            "runs_per_day",
            inputs.runs_per_day,
            "backup runs",
            assumed("runs_per_day"),
            "--runs-per-day (default: hourly runs)",
        ),
        _input(
            "restores_per_month",
            inputs.restores_per_month,
            "one-session restores",
            assumed("restores_per_month"),
            "--restores-per-month (back-tests and explanations)",
        ),
        _input(
            "recheck_sessions",
            inputs.recheck_sessions,
            "sessions per scope per run",
            "project setting" if inputs.recheck_sessions == defaults.recheck_sessions else given,
            "dbt_project.yml var recheck_recent_sessions",
        ),
        _input("tier_after_days", inputs.tier_after_days, "days", "option", "--tier-after-days"),
        _input("cold_storage_class", inputs.storage_class, "", "option", "--storage-class"),
        _input(
            "checkpoint_every",
            bench.checkpoint_every,
            "sessions",
            "measured",
            f"{bench_file} meta.checkpoint_every",
        ),
        _input(
            "backup_run_minimum_billed",
            BACKUP_RUN_MINIMUM_GIB,
            "GiB per run",
            "measured",
            COST_MODEL_SOURCE,
        ),
        _input(
            "restore_minimum_billed",
            RESTORE_MINIMUM_MIB,
            "MiB per restore",
            "measured",
            COST_MODEL_SOURCE,
        ),
        _input(
            "prices",
            {
                "bigquery_active": price.active,
                "bigquery_long_term": price.long_term,
                "long_term_after_days": price.long_term_after_days,
                "query_per_tib": price.query_per_tib,
                "gcs_cold": price.cold,
                "gcs_minimum_days": price.cold_minimum_days,
                "gcs_retrieval_per_gib": price.cold_retrieval_per_gib,
            },
            "USD",
            "price list",
            prices_source,
        ),
    ]
    shapes = {
        name: {
            "first_session": round(shape.first, 4),
            "per_later_session": round(shape.delta, 6),
            "kind": "measured",
            "source": f"{bench_file} strategies.{name}.steady.storage",
        }
        for name, shape in bench.shapes.items()
    }
    assumptions = [
        (
            "A month is 30 days; the estimate runs month by month over --months and drops data older than "
            "--retention-months (prune)."
        ),
        "Every scope lands sessions_per_day / scopes sessions a day, every session the same size and churn.",
        (
            "Stored bytes of each strategy are the benchmark's stored/landed ratio (Parquet zstd, TPC-H) applied "
            "to the logical bytes of one session; deltas scale linearly with churn; a full copy does not."
        ),
        (
            "Storage is billed on logical bytes (BigQuery's default billing model): time travel and fail-safe "
            "are not billed."
        ),
        (
            "History (partitioned by close date) and the full, incremental and differential copies "
            "(partitioned by session date) are never rewritten: each partition becomes long-term storage "
            f"{price.long_term_after_days} days after it was written. Head and a dbt snapshot's table are "
            "rewritten by every run and stay active."
        ),
        (
            f"With cold tiering, History older than {inputs.tier_after_days} days lives in GCS "
            f"{inputs.storage_class} (minimum {price.cold_minimum_days} days, retrieval fee per GiB read)."
        ),
        (
            "Backup runs: Head/History reads the run's sessions once, full, incremental and differential "
            "twice, each plus the re-checked latest sessions of the scopes the run backs up, from landing "
            "(clustered by session_id); Head/History also reads and MERGEs Head (2 x Head); "
            "incremental reads the previous session per scope, differential the checkpoint per scope. A dbt "
            "snapshot takes one session per scope per run and its MERGE reads and bills its whole table."
        ),
        "Every backup run pays the measured minimum billed bytes (10 MB per table per statement).",
        (
            "Restores pick sessions uniformly over what is kept; Head/History reads one scope of Head plus "
            "the History closed since the session (partition pruned by close date); full reads one copy; "
            "incremental a checkpoint and half a chain; differential a checkpoint and one differential; the "
            "snapshot the scope's whole table."
        ),
        "On-demand query pricing; no slot reservations, no network egress, no BigQuery Storage API reads.",
    ]
    return {
        "inputs": listed,
        "strategy_shapes": shapes,
        "assumptions": assumptions,
        "strategies": model["strategies"],
        "cold_tier": model["cold_tier"],
        "months": inputs.months,
    }


# --------------------------------------------------------------------------------------------
# Output


def _money(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def render_markdown(report: dict) -> str:
    months = report["months"]
    strategies = report["strategies"]
    lines = [
        f"# Cost of keeping every session for {months} months, per strategy (BigQuery + GCS)",
        "",
        (
            f"| strategy | stored at month {months} (GiB) | storage, month {months} | queries, month {months} "
            f"| storage, {months} months | queries, {months} months | total, {months} months | % of full | x Head/History |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for strategy in STRATEGIES:
        result = strategies[strategy]
        last = result["months"][-1]
        queries_total = (
            result["cumulative_backup_queries_usd"] + result["cumulative_restore_queries_usd"]
        )
        lines.append(
            f"| {result['label']} | {last['stored_gib']:,.1f} | {_money(last['storage_usd'])} "
            f"| {_money(last['queries_usd'])} "
            f"| {_money(result['cumulative_storage_usd'])} | {_money(queries_total)} "
            f"| {_money(result['cumulative_usd'])} | {result['pct_of_full']} | {result['times_head_history']} |"
        )
    cold = report["cold_tier"]
    lines += [
        "",
        (
            f"Cold tiering over {months} months: storage {_money(cold['storage_saving_usd'])} cheaper, "
            f"queries and retrieval fees {_money(cold['extra_query_and_retrieval_usd'])} dearer "
            "(restores of old sessions read cold History)."
        ),
        "",
        "## Inputs",
        "",
        "| input | value | unit | kind | source |",
        "|---|---|---|---|---|",
    ]
    for item in report["inputs"]:
        value = item["value"]
        if isinstance(value, dict):
            value = ", ".join(f"{key} {entry}" for key, entry in value.items())
        lines.append(
            f"| {item['name']} | {value} | {item['unit']} | {item['kind']} | {item['source']} |"
        )
    lines += [
        "",
        "## Strategy shapes (stored bytes per scope, in landed sessions)",
        "",
        "| strategy | first session | per later session (for differential: per position) | source |",
        "|---|---:|---:|---|",
    ]
    for name, shape in report["strategy_shapes"].items():
        lines.append(
            f"| {name} | {shape['first_session']} | {shape['per_later_session']} | {shape['source']} |"
        )
    lines += ["", "## Assumptions (modelled)", ""] + [f"- {text}" for text in report["assumptions"]]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: str | Path) -> None:
    """Cumulative cost per strategy, month by month (matplotlib, a dev dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BackupError(
            "--plot needs matplotlib: pip install 'session-backup[dev]' or pip install matplotlib."
        ) from None
    figure, axis = plt.subplots(figsize=(9, 5.2), dpi=110)
    for strategy in STRATEGIES:
        result = report["strategies"][strategy]
        months = [month["month"] for month in result["months"]]
        cumulative = [month["cumulative_usd"] for month in result["months"]]
        style = "-" if strategy.startswith("history") else "--"
        axis.plot(
            months,
            cumulative,
            style,
            linewidth=2.4 if strategy.startswith("history") else 1.6,
            label=f"{result['label']}: {_money(result['cumulative_usd'])}",
        )
    axis.set_yscale("log")
    axis.set_xlabel("months")
    axis.set_ylabel("cumulative cost, USD (log scale)")
    axis.set_title(
        f"Cumulative cost of keeping every session, {report['months']} months, BigQuery + GCS"
    )
    axis.set_xlim(1, report["months"])
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="upper left", fontsize=9)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


# --------------------------------------------------------------------------------------------
# The command (registered on the main group by cli.py)


@click.command()
@click.option(
    "--sessions-per-day",
    type=float,
    default=500,
    show_default=True,
    help="Sessions landed per day, all scopes.",
)
@click.option(
    "--scopes",
    type=int,
    default=10,
    show_default=True,
    help="Scopes (countries) the sessions spread over.",
)
@click.option(
    "--rows-per-session", type=float, help="Landing rows per session (default: the benchmark's)."
)
@click.option(
    "--bytes-per-session",
    help="Logical bytes one session lands, e.g. 200MiB or 2GiB "
    "(default: rows per session x the cost model's logical bytes per row).",
)
@click.option(
    "--churn",
    "churn_pct",
    type=float,
    help="Rows changed per session, in % (default: the benchmark's).",
)
@click.option("--months", type=int, default=24, show_default=True, help="Months to estimate.")
@click.option(
    "--retention-months",
    type=int,
    default=24,
    show_default=True,
    help="Data older than this is pruned.",
)
@click.option(
    "--runs-per-day", type=float, default=24, show_default=True, help="Backup runs per day."
)
@click.option(
    "--restores-per-month",
    type=float,
    default=1500,
    show_default=True,
    help="One-session restores per month (back-tests, explanations).",
)
@click.option(
    "--recheck-sessions",
    type=int,
    default=1,
    show_default=True,
    help="Recent sessions per scope re-checked each run (dbt var recheck_recent_sessions).",
)
@click.option(
    "--tier-after-days",
    type=int,
    default=90,
    show_default=True,
    help="Age at which History moves to cold storage (Head/History + cold).",
)
@click.option(
    "--storage-class",
    type=click.Choice(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"], case_sensitive=False),
    default="COLDLINE",
    show_default=True,
    help="GCS class of cold History.",
)
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False),
    help="Prices file (default: $SESSION_BACKUP_PRICES, ./prices.toml, or the packaged one).",
)
@click.option(
    "--bench",
    "bench_path",
    type=click.Path(dir_okay=False),
    help="Benchmark results (default: docs/bench/results.json in the project).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="Write the cumulative cost plot (PNG, SVG).",
)
@click.pass_obj
def estimate_command(
    ctx: Context,
    sessions_per_day: float,
    scopes: int,
    rows_per_session: float | None,
    bytes_per_session: str | None,
    churn_pct: float | None,
    months: int,
    retention_months: int,
    runs_per_day: float,
    restores_per_month: float,
    recheck_sessions: int,
    tier_after_days: int,
    storage_class: str,
    prices_path: str | None,
    bench_path: str | None,
    as_json: bool,
    plot_path: str | None,
) -> None:
    """Estimate storage and query cost per month and over the retention, per strategy.

    Full, incremental, differential, dbt snapshot, and Head/History without and with cold
    tiering, on BigQuery + GCS, from the benchmark's measured sizes and churn, the BigQuery
    cost model's bytes billed and the prices file. Prints a Markdown report (inputs marked
    measured or modelled, assumptions); --json for machines.

    \b
    Examples:
      session-backup estimate
      session-backup estimate --sessions-per-day 500 --scopes 12 --bytes-per-session 2GiB --plot cost.png
      session-backup estimate --json --prices my-prices.toml --retention-months 36 --months 36
    """
    settings = ctx.settings
    bench = load_bench(
        Path(bench_path)
        if bench_path
        else Path(settings.project_dir) / "docs" / "bench" / "results.json"
    )
    if not bench_path:
        bench.source = "docs/bench/results.json"
    prices, prices_source = load_price_list(settings, prices_path)
    inputs = Inputs(
        sessions_per_day=sessions_per_day,
        scopes=scopes,
        rows_per_session=rows_per_session,
        bytes_per_session=parse_size(bytes_per_session, "--bytes-per-session")
        if bytes_per_session
        else None,
        churn_pct=churn_pct,
        months=months,
        retention_months=retention_months,
        runs_per_day=runs_per_day,
        restores_per_month=restores_per_month,
        recheck_sessions=recheck_sessions,
        tier_after_days=tier_after_days,
        storage_class=storage_class.upper(),
    )
    report = estimate(inputs, bench, prices, prices_source)
    if plot_path:
        plot(report, plot_path)
        click.echo(f"wrote {plot_path}", err=True)
    if as_json or ctx.as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_markdown(report), nl=False)
