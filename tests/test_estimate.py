"""`session-backup estimate`: arithmetic on a case small enough to redo by hand, monotonicity,
the JSON shape, the plot, and the errors. No dbt, no warehouse: milliseconds per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_backup.cli import main
from session_backup.estimate import (
    BACKUP_RUN_MINIMUM_GIB,
    GIB,
    LANDED_SESSION_MIB_AT_COST_MODEL_SCALE,
    RESTORE_MINIMUM_MIB,
    STRATEGIES,
)

REPOSITORY = Path(__file__).resolve().parents[1]


def tiny_bench(path: Path) -> Path:
    """A results.json whose shapes are round numbers: one session = 1000 bytes; full adds one
    copy per session, history 1 % of a session, incremental and differential checkpoint every 2."""
    storage = {
        "full": [{"sessions": 1, "bytes": 1000}, {"sessions": 3, "bytes": 3000}],
        "history": [{"sessions": 1, "bytes": 1000}, {"sessions": 3, "bytes": 1020}],
        "snapshot": [{"sessions": 1, "bytes": 2000}, {"sessions": 3, "bytes": 2040}],
        # checkpoints at 1 and 3 (2000 each), session 2 stores 10 bytes of changes
        "incremental": [{"sessions": 1, "bytes": 2000}, {"sessions": 3, "bytes": 4010}],
        "differential": [{"sessions": 1, "bytes": 2000}, {"sessions": 3, "bytes": 4010}],
    }
    results = {
        "meta": {
            "sessions": 3,
            "scale_factor": 0.1,
            "landing_rows_per_session": 1000,
            "checkpoint_every": 2,
            "churn_pct": 1.0,
            "landing": {"churn_pct": {"all": 1.0}},
        },
        "plain": {"one_session_bytes": 1000},
        "strategies": {name: {"steady": {"storage": points}} for name, points in storage.items()},
    }
    path.write_text(json.dumps(results))
    return path


def run(tmp_path: Path, *args: str, project: Path | None = None):
    """The command in a project dir: tmp_path (tiny bench given with --bench) or, for the
    defaults, the repository itself (its docs/bench/results.json; nothing is written there)."""
    return CliRunner().invoke(
        main, ["--project-dir", str(project or tmp_path), "estimate", *args], catch_exceptions=False
    )


SMALL = [
    "--sessions-per-day",
    "1",
    "--scopes",
    "1",
    "--bytes-per-session",
    "1GiB",
    "--months",
    "1",
    "--retention-months",
    "1",
    "--runs-per-day",
    "1",
    "--restores-per-month",
    "0",
    "--recheck-sessions",
    "0",
]


def small_report(tmp_path: Path, *extra: str) -> dict:
    bench = tiny_bench(tmp_path / "results.json")
    result = run(tmp_path, "--bench", str(bench), "--json", *SMALL, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_arithmetic_of_one_month_by_hand(tmp_path):
    report = small_report(tmp_path)
    strategies = report["strategies"]
    minimum = BACKUP_RUN_MINIMUM_GIB  # GiB billed per run whatever its size
    # full: day t holds t GiB at $0.02 per GiB-month, a month being 30 days: 0.02 * (1+...+30) / 30.
    full = strategies["full"]["months"][0]
    assert full["storage_usd"] == pytest.approx(0.02 * 465 / 30, abs=1e-4)
    # one run a day reads the session twice (checksums, copy): (2 GiB + minimum) * 30 at $6.25/TiB.
    assert full["backup_queries_usd"] == pytest.approx((2 + minimum) * 30 / 1024 * 6.25, abs=1e-4)
    assert full["stored_gib"] == pytest.approx(30)
    # history: Head (1 GiB, always active) + 0.01 GiB of History per later session.
    history = strategies["history"]["months"][0]
    assert history["storage_usd"] == pytest.approx(
        0.02 + 0.02 * 0.01 * sum(range(30)) / 30, abs=1e-4
    )
    assert history["stored_gib"] == pytest.approx(1 + 0.01 * 29, abs=1e-3)
    # It reads the session once (its checksums come from change detection's pass) and Head
    # twice per run (the comparison and the MERGE).
    assert history["backup_queries_usd"] == pytest.approx(
        (1 + 2 + minimum) * 30 / 1024 * 6.25, abs=1e-4
    )
    # incremental: a 2 GiB checkpoint every 2 sessions, 0.01 GiB between: 1.005 GiB per session on average.
    incremental = strategies["incremental"]["months"][0]
    assert incremental["stored_gib"] == pytest.approx(2 + 29 * 1.005, abs=1e-3)
    # cumulative equals the sum of the month's parts
    assert full["cumulative_usd"] == pytest.approx(
        full["storage_usd"] + full["backup_queries_usd"], abs=1e-3
    )


def test_long_term_storage_after_90_days(tmp_path):
    report = small_report(tmp_path, "--months", "4", "--retention-months", "4")
    month4 = report["strategies"]["full"]["months"][3]
    # Days 91..120: partitions written on days 1..(t-90) bill at $0.01, the rest at $0.02.
    expected = sum(0.01 * (t - 90) / 30 + 0.02 * 90 / 30 for t in range(91, 121))
    assert month4["storage_usd"] == pytest.approx(expected, abs=1e-4)
    # a dbt snapshot's table is rewritten by every run: no long-term discount at all
    snapshot = report["strategies"]["snapshot"]["months"]
    stored = [month["stored_gib"] for month in snapshot]
    assert snapshot[3]["storage_usd"] > 0.02 * stored[2]


def test_retention_prunes_old_data(tmp_path):
    report = small_report(tmp_path, "--months", "3", "--retention-months", "1")
    stored = [month["stored_gib"] for month in report["strategies"]["full"]["months"]]
    assert stored == pytest.approx([30, 30, 30])


def test_restores_and_minimums(tmp_path):
    report = small_report(tmp_path, "--restores-per-month", "30")
    # full restores one 1 GiB copy per day: 30 GiB a month at $6.25/TiB
    assert report["strategies"]["full"]["months"][0]["restore_queries_usd"] == pytest.approx(
        30 / 1024 * 6.25, abs=1e-4
    )
    tiny = small_report(tmp_path, "--restores-per-month", "30", "--bytes-per-session", "1MiB")
    # a 1 MiB restore is billed the measured minimum
    assert tiny["strategies"]["full"]["months"][0]["restore_queries_usd"] == pytest.approx(
        30 * RESTORE_MINIMUM_MIB / 1024 / 1024 * 6.25, abs=1e-4
    )


def test_prices_file_overrides_one_key(tmp_path):
    prices = tmp_path / "my-prices.toml"
    prices.write_text("[bigquery]\nactive_logical = 0.04\n")
    report = small_report(tmp_path, "--prices", str(prices))
    assert report["strategies"]["full"]["months"][0]["storage_usd"] == pytest.approx(
        0.04 * 465 / 30, abs=1e-4
    )
    listed = {item["name"]: item for item in report["inputs"]}
    assert str(prices) in listed["prices"]["source"]
    assert listed["prices"]["value"]["query_per_tib"] == 6.25  # the rest from the packaged file


def test_monotonic_in_time_sessions_and_churn(tmp_path):
    base = run(tmp_path, "--json", project=REPOSITORY)
    assert base.exit_code == 0, base.output
    report = json.loads(base.output)
    for strategy in STRATEGIES:
        cumulative = [month["cumulative_usd"] for month in report["strategies"][strategy]["months"]]
        assert cumulative == sorted(cumulative) and cumulative[0] > 0, strategy
    more = json.loads(
        run(tmp_path, "--json", "--sessions-per-day", "1000", project=REPOSITORY).output
    )
    churny = json.loads(run(tmp_path, "--json", "--churn", "3", project=REPOSITORY).output)
    for strategy in STRATEGIES:
        assert (
            more["strategies"][strategy]["cumulative_usd"]
            > report["strategies"][strategy]["cumulative_usd"]
        )
    for strategy in ("history", "incremental", "differential", "snapshot"):
        assert (
            churny["strategies"][strategy]["stored_gib_at_end"]
            > report["strategies"][strategy]["stored_gib_at_end"]
        )
    assert (
        churny["strategies"]["full"]["stored_gib_at_end"]
        == report["strategies"]["full"]["stored_gib_at_end"]
    )
    # at the defaults, Head/History stores far less than any session-based strategy
    stored = {name: result["stored_gib_at_end"] for name, result in report["strategies"].items()}
    assert stored["history"] < stored["snapshot"] < stored["incremental"] < stored["full"]


def test_json_shape_and_measured_inputs(tmp_path):
    result = run(tmp_path, "--json", project=REPOSITORY)
    report = json.loads(result.output)
    assert set(report) >= {
        "inputs",
        "assumptions",
        "strategies",
        "strategy_shapes",
        "cold_tier",
        "months",
    }
    assert list(report["strategies"]) == list(STRATEGIES)
    for strategy in report["strategies"].values():
        assert len(strategy["months"]) == 24
        assert set(strategy["months"][0]) == {
            "month",
            "stored_gib",
            "cold_gib",
            "storage_usd",
            "backup_queries_usd",
            "restore_queries_usd",
            "queries_usd",
            "total_usd",
            "cumulative_usd",
        }
        assert strategy["cumulative_usd"] == pytest.approx(
            strategy["months"][-1]["cumulative_usd"], abs=0.01
        )
    inputs = {item["name"]: item for item in report["inputs"]}
    assert inputs["rows_per_session"]["kind"] == "measured"
    assert "docs/bench/results.json" in inputs["rows_per_session"]["source"]
    bench = json.loads((REPOSITORY / "docs/bench/results.json").read_text())
    assert inputs["rows_per_session"]["value"] == bench["meta"]["landing_rows_per_session"]
    assert inputs["bytes_per_session"]["kind"] == "modelled"
    assert all(
        item["kind"] in ("measured", "modelled", "option", "price list", "project setting")
        for item in report["inputs"]
    )
    assert inputs["runs_per_day"]["kind"] == "modelled"
    given = {
        item["name"]: item
        for item in json.loads(
            run(
                tmp_path, "--json", "--runs-per-day", "4", "--churn", "1", project=REPOSITORY
            ).output
        )["inputs"]
    }
    assert given["runs_per_day"]["kind"] == "option" and given["churn_pct"]["kind"] == "option"


def test_markdown_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "cost.png"
    result = run(tmp_path, "--plot", str(plot), project=REPOSITORY)
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Head/History + cold |" in result.output
    assert "## Assumptions (modelled)" in result.output and "measured" in result.output


def test_errors_are_one_line_exit_2(tmp_path):
    result = run(tmp_path, "--bench", str(tmp_path / "missing.json"))
    assert result.exit_code == 2 and "not found" in result.output
    result = run(tmp_path, "--bytes-per-session", "lots", project=REPOSITORY)
    assert result.exit_code == 2 and "--bytes-per-session" in result.output
    result = run(tmp_path, "--scopes", "0", project=REPOSITORY)
    assert result.exit_code == 2 and "--scopes" in result.output
    result = run(tmp_path, "--prices", str(tmp_path / "nope.toml"), project=REPOSITORY)
    assert result.exit_code == 2 and "not found" in result.output


def test_cost_model_figures_still_in_docs():
    """The figures copied from the BigQuery cost model's measurement are still what it states."""
    text = (REPOSITORY / "docs/bigquery.md").read_text()
    for figure in (
        f"{BACKUP_RUN_MINIMUM_GIB} GiB",
        f"{RESTORE_MINIMUM_MIB} MiB",
        f"a landed session ≈ {LANDED_SESSION_MIB_AT_COST_MODEL_SCALE} MiB",
    ):
        assert figure in text, (
            f"docs/bigquery.md no longer states {figure!r}: update the cost-model constants "
            "in src/session_backup/estimate.py and re-run `make estimate`."
        )
    assert GIB == 2**30


def test_committed_estimate_is_current(tmp_path, monkeypatch):
    """docs/estimate/estimate.json (quoted by the blog posts) is what the command prints today:
    after `make bench` or a change of model or prices, `make estimate` must be re-run."""
    monkeypatch.delenv("SESSION_BACKUP_PRICES", raising=False)
    if (REPOSITORY / "prices.toml").exists():
        pytest.skip("a local prices.toml overrides the packaged prices")
    result = run(tmp_path, "--json", project=REPOSITORY)
    committed = json.loads((REPOSITORY / "docs/estimate/estimate.json").read_text())
    assert json.loads(result.output) == committed, "docs/estimate/ is stale: run `make estimate`."
