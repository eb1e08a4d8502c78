"""Cold tiering, rehydration and retention on the local-folder default.

Every restore is compared with landing exactly (multiset, value by value, types included).
The landing is hand-made and small: monthly sessions through 2024 in two scopes, one of them
a scope full of path syntax, with floats (-0.0, NaN, inf), decimals, timestamps, a HUGEINT and
a TIMESTAMP_S (types Parquet cannot hold as such) and a keyless table with duplicates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from support.project import Deployment, DeploymentTemplate, assert_restores_exactly
from support.tiering_landing import (
    DECLARATIONS,
    NASTY,
    NOW,
    TABLES,
    create_landing,
    land_session,
    land_stream,
    versions,
)

from session_backup import cold as tiering
from session_backup.cli import main
from session_backup.cli.tiering import prune, rehydrate, tier
from session_backup.cold.paths import encode_scope
from session_backup.config import load_settings

for _command in (tier, rehydrate, prune):
    if _command.name not in main.commands:
        main.add_command(_command)


def backed_up_stream(root: Path) -> Deployment:
    deployment = Deployment(root, DECLARATIONS)
    create_landing(deployment)
    land_stream(deployment)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    return deployment


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return DeploymentTemplate(tmp_path_factory.getbasetemp(), "tiering", backed_up_stream)


@pytest.fixture()
def deployment(template):
    return template.fresh()


def cli_json(deployment: Deployment, *args: str, expect: int = 0) -> dict:
    result = deployment.cli(["--json", *args])
    assert result.exit_code == expect, result.output
    return json.loads(result.output) if expect == 0 else {}


def settings(deployment: Deployment):
    with deployment.environment():
        return load_settings()


def files_on_disk(deployment: Deployment) -> set[str]:
    root = deployment.root / "cold"
    return (
        {str(path) for path in root.rglob("*.parquet") if ".staging" not in path.parts}
        if root.exists()
        else set()
    )


def staging_files(deployment: Deployment) -> list[str]:
    staging = deployment.root / "cold" / ".staging"
    return (
        sorted(str(path) for path in staging.rglob("*") if path.is_file())
        if staging.exists()
        else []
    )


def manifest_files(deployment: Deployment, states=("active", "released")) -> set[str]:
    with deployment.backup_connection() as connection:
        marks = ", ".join("?" for _ in states)
        return {
            row[0]
            for row in connection.execute(
                f"select file_uri from backup.backup.cold_manifest where state in ({marks})",
                list(states),
            ).fetchall()
        }


def assert_intact(deployment: Deployment, expected_total: dict[str, int]) -> None:
    """Every session restores exactly; every version is in exactly one place."""
    state = versions(deployment)
    for table, total in expected_total.items():
        assert state[table]["total"] == total, (table, state[table], total)
        assert state[table]["cold"] == state[table]["cold_read"], (table, state[table])
    assert_restores_exactly(deployment, TABLES)


def test_tier_restore_verify_rehydrate_cycle(deployment):
    before = {table: entry["total"] for table, entry in versions(deployment).items()}
    assert all(before.values())

    dry = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW, "--dry-run")
    assert dry["dry_run"] and dry["moved"]["rows"] > 0 and dry["cutoff_date"] == "2024-10-02"
    assert not (deployment.root / "cold").exists() or not files_on_disk(deployment)
    assert versions(deployment)["items"]["cold"] == 0

    summary = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    moved = summary["moved"]
    assert moved["rows"] == dry["moved"]["rows"] and moved["files"] == dry["moved"]["files"]
    assert moved["cold_bytes"] > 0 and summary["bytes"]["after"]["cold"] == moved["cold_bytes"]
    assert summary["bytes"]["after"]["hot_logical"] < summary["bytes"]["before"]["hot_logical"]
    cost = summary["monthly_storage_cost"]
    assert cost["before"]["cold_usd"] == 0 and cost["after"]["cold_usd"] > 0
    assert summary["prices_file"].endswith("prices.toml")
    state = versions(deployment)
    assert state["items"]["cold"] > 0 and state == {
        t: {**state[t], "total": before[t]} for t in TABLES
    }

    # Readable layout; the scope is percent-encoded, never raw path syntax.
    files = files_on_disk(deployment)
    assert files == manifest_files(deployment)
    for path in files:
        relative = Path(path).relative_to(deployment.root / "cold")
        table, scope_part, month_part, name = relative.parts
        assert (
            table in TABLES
            and scope_part.startswith("scope=")
            and month_part.startswith("closed_month=")
        )
        assert name.startswith("part-") and name.endswith(".parquet")
    assert any(f"scope={encode_scope(NASTY)}" in path for path in files)
    assert not any("[" in path or "*" in path or " " in path for path in files)
    with duckdb.connect() as connection:
        assert (
            connection.execute(f"select count(*) from read_parquet('{min(files)}')").fetchone()[0]
            > 0
        )

    # Restore and verify read hot and cold together, exactly.
    assert_intact(deployment, before)
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0 and "0 mismatch" in result.output, result.output
    result = deployment.cli(["restore", "--session", "vn-01", "--into", "restored"])
    assert result.exit_code == 0, result.output

    # Re-running moves nothing and counts nothing twice.
    again = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert again["moved"]["rows"] == 0
    assert versions(deployment) == state

    # A backup after tiering (dbt build + invariant tests over hot and cold) keeps working.
    land_session(deployment, "vn-10", "VN", "2024-10-05 00:00:00", 10)
    result = deployment.backup("--check-invariants")
    assert result.exit_code == 0, result.output
    before = {table: entry["total"] for table, entry in versions(deployment).items()}
    assert_intact(deployment, before)

    # Rehydrate one scope and month range; files kept (released), not read any more.
    back = cli_json(
        deployment, "rehydrate", "--table", "items", "--scope", NASTY, "--month", "2024-01..2024-04"
    )
    assert back["rows"] > 0 and back["files"] and not back["deleted_files"]
    assert all(Path(item["file"]).exists() for item in back["files"])
    assert_intact(deployment, before)
    assert versions(deployment)["items"]["hot"] == state["items"]["hot"] + back["rows"] + (
        before["items"] - state["items"]["total"]
    )

    # Everything back, files deleted: cold is empty, restores still exact.
    everything = cli_json(deployment, "rehydrate", "--delete-files")
    assert everything["rows"] > 0
    assert (
        versions(deployment)["items"]["cold"] == 0 and versions(deployment)["events"]["cold"] == 0
    )
    assert files_on_disk(deployment) == manifest_files(deployment, ("released",))
    assert_intact(deployment, before)
    result = deployment.backup("--check-invariants")
    assert result.exit_code == 0, result.output


def test_every_tier_step_interrupted_then_resumed(deployment):
    """Fault injection after each step of `tier` (and of `rehydrate`): right after the failure
    every session restores exactly, and a re-run completes with nothing lost or doubled."""
    before = {table: entry["total"] for table, entry in versions(deployment).items()}
    with deployment.environment():
        config = load_settings()
        for step in tiering.STEPS["tier"]:
            with pytest.raises(tiering.InjectedFault):
                tiering.tier(config, "90d", now=NOW, fail_after=step)
            assert_intact(deployment, before)
            summary = tiering.tier(config, "90d", now=NOW)
            assert_intact(deployment, before)
            assert versions(deployment)["items"]["cold"] > 0, step
            assert files_on_disk(deployment) == manifest_files(deployment), step
            assert not list((deployment.root / "cold" / ".staging").glob("*")), step
            assert summary["moved"]["rows"] > 0 or step == "commit", step
            # Back to all-hot for the next step, through an interrupted rehydrate each time.
            rehydrate_step = tiering.STEPS["rehydrate"][tiering.STEPS["tier"].index(step) % 5]
            with pytest.raises(tiering.InjectedFault):
                tiering.rehydrate(config, delete_files=True, fail_after=rehydrate_step)
            assert_intact(deployment, before)
            tiering.rehydrate(config, delete_files=True)
            assert_intact(deployment, before)
            assert all(entry["cold"] == 0 for entry in versions(deployment).values()), step
            assert files_on_disk(deployment) == set(), step


@pytest.mark.parametrize("step", ["write", "upload", "manifest", "commit"])
def test_tier_killed_at_a_step_then_resumed(deployment, step):
    """The process dies (os._exit, no cleanup, open transaction lost) after a step."""
    before = {table: entry["total"] for table, entry in versions(deployment).items()}
    code = (
        "from session_backup.cli import main, run\n"
        "from session_backup.cli.tiering import tier\n"
        "main.add_command(tier)\nrun()\n"
    )
    env = {**os.environ, **deployment.env, tiering.FAULT_ENV: f"tier.{step}:exit"}
    killed = subprocess.run(
        [sys.executable, "-c", code, "tier", "--older-than", "90d", "--now", NOW],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == 97, killed.stderr
    assert_intact(deployment, before)
    summary = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert summary["moved"]["rows"] > 0 or step == "commit"
    assert_intact(deployment, before)
    assert files_on_disk(deployment) == manifest_files(deployment)
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0, result.output


def test_missing_or_corrupted_cold_file_fails_clearly_and_loses_nothing(deployment):
    cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    before = versions(deployment)
    with deployment.backup_connection() as connection:
        path, uri = connection.execute(
            "select read_path, file_uri from backup.backup.cold_manifest where table_name = 'items' "
            "and scope = 'VN' and closed_month = '2024-02' and state = 'active'"
        ).fetchone()
    saved = Path(path).read_bytes()

    # Missing: restore and verify of anything that reads items' cold view name the file (the
    # view reads every cold file of the table); other tables still restore.
    Path(path).unlink()
    for args in (
        ["restore", "--session", "vn-01", "--into", "r"],
        ["restore", "--session", "vn-09", "--into", "r"],
        ["verify", "--all"],
    ):
        result = deployment.cli(args)
        assert result.exit_code == 2 and uri in result.output and "is missing" in result.output, (
            result.output
        )
    result = deployment.cli(["restore", "--session", "vn-01", "--table", "events", "--into", "r"])
    assert result.exit_code == 0, result.output
    # Tiering refuses to build on a broken cold store rather than hide it.
    with deployment.environment():
        with pytest.raises(Exception) as caught:
            tiering.check_cold(load_settings())
        assert uri in str(caught.value)

    # A backup still runs: the view becomes a guard whose error names the table and file.
    land_session(deployment, "vn-10", "VN", "2024-10-05 00:00:00", 10)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    with deployment.backup_connection() as connection, pytest.raises(duckdb.Error) as caught:
        connection.execute("select * from backup.backup.restore_items('vn-01')").fetchall()
    assert "cold history of table items is detached" in str(caught.value) and path in str(
        caught.value
    )

    # Corrupted in place (same size): the SHA-256 check names it.
    corrupted = bytearray(saved)
    corrupted[len(corrupted) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(corrupted))
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 2 and uri in result.output and "SHA-256" in result.output, (
        result.output
    )
    # Truncated: the size check names it.
    Path(path).write_bytes(saved[:100])
    result = deployment.cli(["restore", "--session", "vn-01", "--into", "r"])
    assert result.exit_code == 2 and uri in result.output and "truncated" in result.output, (
        result.output
    )

    # The file back: `tier --check` re-attaches the view, and nothing was lost.
    Path(path).write_bytes(saved)
    result = deployment.cli(["tier", "--check"])
    assert result.exit_code == 0 and "1 view(s) re-attached" in result.output, result.output
    assert {t: versions(deployment)[t]["cold"] for t in TABLES} == {
        t: before[t]["cold"] for t in TABLES
    }
    assert_restores_exactly(deployment, TABLES)
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0, result.output


def test_prune_keeps_window_and_held_sessions(deployment, tmp_path):
    cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    hold_file = tmp_path / "holds.txt"
    hold_file.write_text("# legal hold\nnasty-1\n\n")
    all_sessions = deployment.sessions()
    before = versions(deployment)

    # Window starts 2024-06-01: VN sessions 01..05 and nasty-1..3 started before it.
    dry = cli_json(
        deployment,
        "prune",
        "--keep",
        "6m",
        "--now",
        "2024-12-01",
        "--dry-run",
        "--hold",
        "vn-02",
        "--hold-file",
        str(hold_file),
    )
    assert dry["window_start"].startswith("2024-06-01")
    # vn-05 and nasty-3 are each scope's last session before the window: kept restorable.
    assert dry["pruned_session_ids"] == ["nasty-2", "vn-01", "vn-03", "vn-04"]
    assert versions(deployment) == before
    with deployment.backup_connection() as connection:
        assert (
            connection.execute(
                "select count(*) from duckdb_tables() where table_name = 'backup_pruned_sessions'"
            ).fetchone()[0]
            == 0
        )

    summary = cli_json(
        deployment,
        "prune",
        "--keep",
        "6m",
        "--now",
        "2024-12-01",
        "--hold",
        "vn-02",
        "--hold-file",
        str(hold_file),
    )
    assert summary["pruned_sessions"] == 4
    after = versions(deployment)
    assert after["items"]["total"] < before["items"]["total"]
    assert files_on_disk(deployment) == manifest_files(deployment)
    kept = [s for s in all_sessions if s not in dry["pruned_session_ids"]]
    assert_restores_exactly(deployment, TABLES, kept)
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0 and f"of {len(kept)} session(s): 0 mismatch" in result.output, (
        result.output
    )

    # Pruned sessions: status says so, restore refuses clearly.
    states = {row["session_id"]: row["state"] for row in cli_json(deployment, "status")}
    assert {sid for sid, state in states.items() if state == "pruned"} == set(
        dry["pruned_session_ids"]
    )
    result = deployment.cli(["restore", "--session", "vn-03", "--into", "r"])
    assert (
        result.exit_code == 2 and "was pruned" in result.output and "retention" in result.output
    ), result.output

    # Holds are remembered: a later prune without --hold keeps vn-02 and nasty-1.
    later = cli_json(deployment, "prune", "--keep", "6m", "--now", "2024-12-01")
    assert set(later["held_sessions"]) == {"vn-02", "nasty-1"} and later["pruned_sessions"] == 0
    # The backup and its invariant tests still pass after pruning.
    land_session(deployment, "vn-10", "VN", "2024-10-05 00:00:00", 10)
    result = deployment.backup("--check-invariants")
    assert result.exit_code == 0, result.output
    assert_restores_exactly(deployment, TABLES, kept + ["vn-10"])

    # Releasing a hold lets the next prune take it.
    released = cli_json(
        deployment, "prune", "--keep", "6m", "--now", "2024-12-01", "--release", "vn-02"
    )
    assert released["released"] == ["vn-02"] and released["pruned_sessions"] == 1
    assert_restores_exactly(deployment, TABLES, [s for s in kept if s != "vn-02"] + ["vn-10"])


def test_every_prune_step_interrupted_then_resumed(deployment):
    """Prune with a held session (so a cold file is rewritten) interrupted after each step;
    after each failure and after the re-run, every session inside the window or held restores
    exactly."""
    with deployment.environment():
        config = load_settings()
        tiering.tier(config, "30d", now=NOW)
        kept = None
        for number, step in enumerate(tiering.STEPS["prune"]):
            now = f"2024-{7 + number:02d}-01"
            plan = tiering.prune(config, "4m", now=now, holds=["vn-01"], dry_run=True)
            survivors = [
                s
                for s in deployment.sessions()
                if s not in plan["pruned_session_ids"] and (kept is None or s in kept)
            ]
            with pytest.raises(tiering.InjectedFault):
                tiering.prune(config, "4m", now=now, holds=["vn-01"], fail_after=step)
            assert_restores_exactly(
                deployment,
                TABLES,
                survivors if step in ("commit", "delete") else (kept or deployment.sessions()),
            )
            tiering.prune(config, "4m", now=now, holds=["vn-01"])
            assert_restores_exactly(deployment, TABLES, survivors)
            assert files_on_disk(deployment) == manifest_files(deployment), step
            assert staging_files(deployment) == [], (
                step
            )  # nothing of the interrupted run left behind
            kept = survivors
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0, result.output
    assert "vn-01" in kept


def test_column_added_after_tiering(deployment):
    cli_json(deployment, "tier", "--older-than", "60d", "--now", NOW)
    with deployment.landing() as landing:
        landing.execute("alter table items add column colour varchar")
        landing.execute("alter table events add column extra bigint")
    land_session(deployment, "vn-10", "VN", "2024-10-05 00:00:00", 10)
    with deployment.landing() as landing:
        landing.execute(
            "update items set colour = 'red' where session_id = 'vn-10' and item_id = 1"
        )
    result = deployment.backup("--check-invariants")
    assert result.exit_code == 0, result.output
    assert_restores_exactly(deployment, TABLES)
    summary = cli_json(deployment, "tier", "--older-than", "30d", "--now", "2024-12-31")
    assert summary["moved"]["rows"] > 0
    assert_restores_exactly(deployment, TABLES)
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0, result.output


def test_units_and_errors(tmp_path, deployment):
    from datetime import datetime

    now = datetime(2024, 3, 31, 12, 0)
    assert tiering.subtract_duration(now, "90d", "x") == datetime(2024, 1, 1, 12, 0)
    assert tiering.subtract_duration(now, "1m", "x") == datetime(2024, 2, 29, 12, 0)
    assert tiering.subtract_duration(now, "2y", "x") == datetime(2022, 3, 31, 12, 0)
    assert tiering.parse_now("2024-12-31") == datetime(2024, 12, 31)
    assert encode_scope("a/b") == "a%2Fb" and encode_scope("%") == "%25"
    assert len(encode_scope("é" * 300)) < 130
    for args, text in (
        (["tier", "--older-than", "soon"], "expected a number and a unit"),
        (["tier"], "Give --older-than"),
        (["tier", "--older-than", "90d", "--table", "nope"], "not declared"),
        (["rehydrate", "--month", "2024-13-01"], "YYYY-MM"),
        (["prune", "--keep", "2y", "--hold", "no-such-session"], "Unknown session"),
        (["tier", "--older-than", "90d", "--prices", str(tmp_path / "none.toml")], "not found"),
    ):
        result = deployment.cli(args)
        assert result.exit_code == 2 and text in result.output, (args, result.output)
    prices = tmp_path / "prices.toml"
    prices.write_text("[gcs]\ncoldline = 1.0\n")
    summary = cli_json(
        deployment,
        "tier",
        "--older-than",
        "90d",
        "--now",
        NOW,
        "--dry-run",
        "--prices",
        str(prices),
    )
    assert summary["prices_file"] == str(prices)
    estimated = summary["moved"]["cold_bytes"] / 2**30
    assert summary["monthly_storage_cost"]["after"]["cold_usd"] == pytest.approx(
        estimated * 1.0, rel=1e-3
    )


def test_a_table_that_cannot_be_tiered_does_not_stop_the_others(deployment):
    """One table refused at its verify step: reported with the reason (exit 1), nothing of it in
    the cold manifest or the staging folder; the other table tiers in the same run."""
    before = versions(deployment)
    env = {tiering.FAULT_ENV: "tier.verify@items:refuse"}
    with deployment.environment():
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            result = deployment.cli(["--json", "tier", "--older-than", "90d", "--now", NOW])
        finally:
            for key, value in saved.items():
                os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    assert [entry["table"] for entry in summary["refused"]] == ["items"]
    assert "injected refusal after tier.verify of items" in summary["refused"][0]["reason"]
    assert set(summary["moved"]["by_table"]) == {"events"}
    after = versions(deployment)
    assert (
        after["items"] == {**before["items"], "cold_read": after["items"]["cold_read"]}
        and after["items"]["cold"] == 0
    )
    assert after["events"]["cold"] > 0 and after["events"]["total"] == before["events"]["total"]
    with deployment.backup_connection() as connection:
        states = connection.execute(
            "select distinct table_name, state from backup.backup.cold_manifest"
        ).fetchall()
    assert states == [("events", "active")]
    assert all("/events/" in path for path in files_on_disk(deployment))
    assert staging_files(deployment) == []
    assert_restores_exactly(deployment, TABLES)
    # The cause gone, the next run tiers it.
    again = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert again["refused"] == [] and set(again["moved"]["by_table"]) == {"items"}
    assert_intact(deployment, {table: entry["total"] for table, entry in before.items()})


def test_cold_settings_come_from_config_only(tmp_path, monkeypatch):
    """Every cold setting is read from the environment by config.load_settings, and nothing in
    the cold package reads the environment itself (so a caller's Settings always win)."""
    import ast

    import session_backup.cold as cold_package

    for name, value in {
        "SESSION_BACKUP_COLD_ROOT": "gs://bucket/prefix",
        "SESSION_BACKUP_COLD_STORAGE_CLASS": "archive",
        "SESSION_BACKUP_COLD_CACHE": "cache/cold",
        "SESSION_BACKUP_BQ_COLD_READS": " LOAD ",
        "SESSION_BACKUP_GCS_ENDPOINT": "http://127.0.0.1:1",
        "SESSION_BACKUP_GCS_PROJECT": "gcs-project",
        "SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT": str(tmp_path / "exports"),
        "SESSION_BACKUP_PRICES": str(tmp_path / "prices.toml"),
        tiering.FAULT_ENV: "tier.write",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(tmp_path)
    assert settings.cold_root == "gs://bucket/prefix"
    assert settings.cold_storage_class == "ARCHIVE"
    assert settings.cold_cache_dir == tmp_path.resolve() / "cache" / "cold"
    assert settings.cold_reads == "load"
    assert (settings.gcs_endpoint, settings.gcs_project) == ("http://127.0.0.1:1", "gcs-project")
    assert settings.bigquery_export_local_root == tmp_path / "exports"
    assert settings.prices_file == str(tmp_path / "prices.toml")
    assert settings.cold_fail_after == "tier.write"
    from session_backup.cold.storage import cache_dir_for

    assert cache_dir_for(settings) == tmp_path.resolve() / "cache" / "cold"

    readers = []
    for path in sorted(Path(cold_package.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                readers.append(f"{path.name}:{node.lineno}")
    assert readers == []
