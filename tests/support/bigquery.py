"""Test helpers for the BigQuery target: the project driven through dbt-bigquery against the
local BigQuery API emulator (bqemulator, scripts/emulators.py), with landing loaded from a
generated DuckDB stream.

Nothing here talks to Google: every client points at the emulator's 127.0.0.1 endpoint with
anonymous credentials, and dbt uses the repository's own `bigquery` target of
profiles.example.yml with `method: oauth-secrets`, a dummy token and `api_endpoint` set
through the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from click.testing import CliRunner

from session_backup.config import environment_set
from support.project import copy_project, generate_project

EMULATOR_PROJECT = "local-proj"

# Landing column types as BigQuery knows them. DuckDB's DECIMAL(p, s) with s <= 9 is NUMERIC.
_DUCKDB_TO_BIGQUERY = {
    "VARCHAR": "STRING",
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "BLOB": "BYTES",
}


def bigquery_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return "NUMERIC"
    return _DUCKDB_TO_BIGQUERY[duckdb_type]


# The API names some types by their legacy SQL names depending on the call.
_STANDARD_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def standard_type(field_type: str) -> str:
    return _STANDARD_NAMES.get(field_type, field_type)


def emulator_grpc_endpoint(state_dir: Path) -> str | None:
    """bqemulator's gRPC port (BigQuery Storage Read API), from the command line of the process
    scripts/emulators.py started; None if it cannot be found."""
    try:
        pid = int((Path(state_dir) / "bqemulator.pid").read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return f"127.0.0.1:{argv[argv.index(b'--grpc-port') + 1].decode()}"
    except (OSError, ValueError, IndexError):
        return None


def storage_read_client(grpc_endpoint: str):
    """A BigQuery Storage Read API client on the emulator: tables come back as Arrow, ~10x
    faster than JSON rows through the REST API (the emulator's query results cannot be read
    this way, tables can)."""
    import grpc
    from google.cloud import bigquery_storage
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
        BigQueryReadGrpcTransport,
    )

    channel = grpc.insecure_channel(
        grpc_endpoint, options=[("grpc.max_receive_message_length", -1)]
    )
    return bigquery_storage.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))


def bigquery_client(endpoint: str, project: str = EMULATOR_PROJECT):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
        location="US",
    )


class CliProcess:
    """`session-backup ARGS` running in a child process, its output collected in files."""

    count = 0

    def __init__(self, deployment: BigQueryDeployment, args: list[str]) -> None:
        CliProcess.count += 1
        base = deployment.root / f"cli-{CliProcess.count}"
        self.stdout_path, self.stderr_path = base.with_suffix(".out"), base.with_suffix(".err")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from session_backup.cli import run; run()", *args],
                env={**os.environ, **deployment.env},
                cwd=str(deployment.project),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def running(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait(self, timeout: float = 300) -> tuple[int, str, str]:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        return code, self.stdout_path.read_text(), self.stderr_path.read_text()


class BigQueryDeployment:
    """A private project copy whose backup lives in its own datasets of the emulator:
    landing `<name>_landing`, backup `<name>` (+ `<name>_staging`)."""

    def __init__(
        self,
        root: Path,
        declarations: dict[str, dict],
        emulator_env: dict[str, str],
        name: str = "backup",
        grpc_endpoint: str | None = None,
    ) -> None:
        self.root = root
        self.emulator_env = emulator_env
        self.read_client = storage_read_client(grpc_endpoint) if grpc_endpoint else None
        self.project = copy_project(root / "project", declarations)
        self.dataset = name
        self.landing_dataset = f"{name}_landing"
        self.endpoint = emulator_env["BQ_EMULATOR_ENDPOINT"]
        self.env = {
            "SESSION_BACKUP_PROJECT_DIR": str(self.project),
            "SESSION_BACKUP_TARGET": "bigquery",
            "SESSION_BACKUP_BQ_PROJECT": EMULATOR_PROJECT,
            "SESSION_BACKUP_BQ_DATASET": self.dataset,
            "SESSION_BACKUP_BQ_LOCATION": "US",
            "SESSION_BACKUP_BQ_METHOD": "oauth-secrets",
            "SESSION_BACKUP_BQ_TOKEN": "dummy-token-for-the-emulator",
            "SESSION_BACKUP_BQ_API_ENDPOINT": self.endpoint,
            "SESSION_BACKUP_LANDING_SCHEMA": self.landing_dataset,
            "SESSION_BACKUP_COLD_ROOT": str(root / "cold"),
            "DBT_PROFILES_DIR": str(self.project),
            "DBT_TARGET_PATH": str(root / "target"),
            "DBT_LOG_PATH": str(root / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        self.client = bigquery_client(self.endpoint)
        self.client.create_dataset(f"{EMULATOR_PROJECT}.{self.landing_dataset}", exists_ok=True)
        generate_project(self.project, self.env, declarations)

    # -- driving it like a user -------------------------------------------------------------

    @contextmanager
    def environment(self) -> Iterator[None]:
        with environment_set(self.env):
            yield

    def cli(self, args: list[str]):
        from session_backup.cli import main

        with self.environment():
            return CliRunner().invoke(main, args, catch_exceptions=False)

    def backup(self, *extra: str):
        return self.cli(["backup", *extra])

    def cli_process(self, args: list[str]) -> CliProcess:
        """The CLI in its own process (two backups at once cannot share dbt's process state)."""
        return CliProcess(self, args)

    def dbt(self, args: list[str]):
        """dbt in-process with this deployment's target, like the CLI runs it."""
        from session_backup.config import load_settings
        from session_backup.dbt_runner import run_dbt

        with self.environment():
            return run_dbt(load_settings(self.project), args)

    def compile_inline(self, sql: str) -> str:
        """`dbt compile --inline` against this deployment: the SQL a macro renders, without
        running it (for statements the emulator cannot run)."""
        from dbt.cli.main import dbtRunner

        with self.environment():
            result = dbtRunner().invoke(
                [
                    "--log-level",
                    "none",
                    "compile",
                    "--inline",
                    sql,
                    "--project-dir",
                    str(self.project),
                    "--profiles-dir",
                    str(self.project),
                    "--target",
                    "bigquery",
                ]
            )
        assert result.success, result.exception
        return result.result.results[0].node.compiled_code

    def jobs(self, since=None) -> list:
        """Query jobs the emulator ran that touch this deployment's datasets (jobs.list keeps
        every statement with its text), oldest first."""
        markers = (f"`{self.dataset}`", f"`{self.dataset}_")
        jobs = [
            job
            for job in self.client.list_jobs(max_results=1_000_000, min_creation_time=since)
            if job.job_type == "query"
            and any(marker in (job.query or "") for marker in markers)
            and (since is None or job.created >= since)
            and not (job.query or "").startswith("/* session_backup cost model */")
        ]
        return sorted(jobs, key=lambda job: job.created)

    # -- the warehouse ----------------------------------------------------------------------

    def relation(self, name: str, dataset: str | None = None) -> str:
        return f"`{EMULATOR_PROJECT}`.`{dataset or self.dataset}`.`{name}`"

    def query(self, sql: str, **params: Any) -> list[tuple]:
        from google.cloud import bigquery

        parameters = []
        for key, value in params.items():
            kind = (
                "INT64"
                if isinstance(value, int)
                else "DATE"
                if hasattr(value, "isoformat")
                else "STRING"
            )
            parameters.append(bigquery.ScalarQueryParameter(key, kind, value))
        job = self.client.query(
            sql, job_config=bigquery.QueryJobConfig(query_parameters=parameters)
        )
        return [tuple(row.values()) for row in job.result()]

    def read_table(self, table: str, dataset: str | None = None):
        """A whole table as Arrow, with its schema [(name, type)] as tables.get reports it."""
        import pyarrow as pa

        table_ref = self.client.get_table(f"{EMULATOR_PROJECT}.{dataset or self.dataset}.{table}")
        schema = [(field.name, standard_type(field.field_type)) for field in table_ref.schema]
        listing = self.client.list_rows(table_ref)
        if self.read_client is not None:
            arrow = listing.to_arrow(bqstorage_client=self.read_client)
        else:
            arrow = listing.to_arrow(create_bqstorage_client=False)
        if arrow.num_rows == 0:
            arrow = pa.Table.from_pylist([], schema=arrow.schema)
        return schema, arrow

    def sessions(self) -> list[str]:
        return [
            row[0]
            for row in self.query(
                f"select session_id from {self.relation('backup_sessions')} order by scope, session_seq"
            )
        ]

    # -- landing ----------------------------------------------------------------------------

    def load_landing(
        self,
        landing_db: Path,
        session_ids: list[str] | None = None,
        tables: list[str] | None = None,
    ) -> dict[str, int]:
        """Append the rows of `session_ids` (default: all) of every landing table of a DuckDB
        landing file to the emulator's landing dataset, through Parquet load jobs; the
        BigQuery tables are created first with the mapped types (a load job cannot create a
        table in the emulator). Returns rows loaded per table."""
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        loaded = {}
        with (
            duckdb.connect(str(landing_db), read_only=True) as source,
            tempfile.TemporaryDirectory(dir=self.root) as folder,
        ):
            names = tables or [
                row[0]
                for row in source.execute(
                    "select table_name from information_schema.tables where table_schema = 'main' order by 1"
                ).fetchall()
            ]
            for table in names:
                columns = source.execute(f'describe "{table}"').fetchall()
                table_id = f"{EMULATOR_PROJECT}.{self.landing_dataset}.{table}"
                try:
                    self.client.get_table(table_id)
                except NotFound:
                    # Clustered by session_id, as docs/bigquery.md asks of landing: the backup's
                    # constant session lists then read only the batch's blocks.
                    schema = [
                        bigquery.SchemaField(name, bigquery_type(kind))
                        for name, kind, *_ in columns
                    ]
                    table_def = bigquery.Table(table_id, schema=schema)
                    table_def.clustering_fields = ["session_id"]
                    self.client.create_table(table_def)
                where = ""
                if session_ids is not None:
                    where = (
                        "where session_id in ("
                        + ", ".join("'" + value.replace("'", "''") + "'" for value in session_ids)
                        + ")"
                    )
                path = Path(folder) / f"{table}.parquet"
                source.execute(
                    f"copy (select * from \"{table}\" {where}) to '{path}' (format parquet)"
                )
                rows = source.execute(f'select count(*) from "{table}" {where}').fetchone()[0]
                if rows:
                    with open(path, "rb") as handle:
                        self.client.load_table_from_file(
                            handle,
                            table_id,
                            job_config=bigquery.LoadJobConfig(
                                source_format="PARQUET", write_disposition="WRITE_APPEND"
                            ),
                        ).result()
                loaded[table] = rows
        return loaded


def multiset_difference(
    connection, restored, landed, float_columns: set[str]
) -> tuple[int, int, list, list]:
    """Compares two Arrow tables as multisets, value by value, in a DuckDB connection (fast: the
    values are never converted to Python objects). Float columns are compared on a text form
    that keeps -0.0 and NaN apart (SQL equality would not). Returns (#missing, #extra, and up to
    three examples of each)."""
    terms = []
    for name in landed.column_names:
        quoted = '"' + name.replace('"', '""') + '"'
        if name in float_columns:
            terms.append(f"case when isnan({quoted}) then 'nan' else printf('%.17g', {quoted}) end")
        else:
            terms.append(quoted)
    columns = ", ".join(terms)
    connection.register("restored_rows", restored.select(landed.column_names))
    connection.register("landed_rows", landed)
    missing_sql = (
        f"select {columns} from landed_rows except all select {columns} from restored_rows"
    )
    extra_sql = f"select {columns} from restored_rows except all select {columns} from landed_rows"
    missing = connection.execute(f"select count(*) from ({missing_sql})").fetchall()[0][0]
    extra = connection.execute(f"select count(*) from ({extra_sql})").fetchall()[0][0]
    examples_missing = connection.execute(f"{missing_sql} limit 3").fetchall() if missing else []
    examples_extra = connection.execute(f"{extra_sql} limit 3").fetchall() if extra else []
    connection.unregister("restored_rows")
    connection.unregister("landed_rows")
    return missing, extra, examples_missing, examples_extra


def assert_restores_exactly(
    deployment: BigQueryDeployment, tables: list[str], sessions: list[str] | None = None
) -> int:
    """Every table of every session equals what landing holds in the emulator (the contract:
    values as BigQuery stored them), as a multiset, value by value, with the landing's column
    names and types, through both restore paths:
    - `session-backup restore --session S --into <dataset>_cli<i>` (on BigQuery the CLI calls
      restore_<t>_pruned with the session's scope and start date);
    - the plain table function restore_<t>(S).
    The restored rows carry their session_id, so each path's restores of all sessions are
    gathered into one table per table inside the emulator, read once (Storage Read API) and
    compared with landing as one multiset. Returns the number of (session, table) pairs."""
    import pyarrow.compute as pc

    sessions = sessions or deployment.sessions()
    cli_datasets = []
    for index, session_id in enumerate(sessions):
        cli_datasets.append(f"{deployment.dataset}_cli{index}")
        result = deployment.cli(["restore", "--session", session_id, "--into", cli_datasets[-1]])
        assert result.exit_code == 0, result.output
    gathered = f"{deployment.dataset}_restored"
    deployment.client.create_dataset(f"{EMULATOR_PROJECT}.{gathered}", exists_ok=True)
    parameters = {f"s{index}": session_id for index, session_id in enumerate(sessions)}
    with duckdb.connect() as connection:
        for table in tables:
            landed_schema, _ = deployment.read_table(table, deployment.landing_dataset)
            # The CLI restores the columns each session landed with: a column landing added
            # later is absent from older sessions (and NULL in their landing rows).
            selects = []
            for dataset in cli_datasets:
                schema = [
                    field.name
                    for field in deployment.client.get_table(
                        f"{EMULATOR_PROJECT}.{dataset}.{table}"
                    ).schema
                ]
                assert schema == [name for name, _ in landed_schema if name in schema], (
                    table,
                    dataset,
                    schema,
                )
                selects.append(
                    "select "
                    + ", ".join(
                        f"`{name}`" if name in schema else f"cast(null as {kind}) as `{name}`"
                        for name, kind in landed_schema
                    )
                    + f" from {deployment.relation(table, dataset)}"
                )
            through_cli = " union all ".join(selects)
            through_function = " union all ".join(
                f"select * from `{EMULATOR_PROJECT}`.`{deployment.dataset}`.`restore_{table}`(@{name})"
                for name in parameters
            )
            deployment.query(
                f"create or replace table {deployment.relation(f'{table}_cli', gathered)} as {through_cli}"
            )
            deployment.query(
                f"create or replace table {deployment.relation(f'{table}_fn', gathered)} as {through_function}",
                **parameters,
            )
            landed_schema, landed = deployment.read_table(table, deployment.landing_dataset)
            landed = landed.filter(pc.is_in(landed["session_id"], value_set=pa_array(sessions)))
            floats = {name for name, kind in landed_schema if kind == "FLOAT64"}
            for path in ("cli", "fn"):
                schema, restored = deployment.read_table(f"{table}_{path}", gathered)
                assert schema == landed_schema, (table, path, schema, landed_schema)
                missing, extra, some_missing, some_extra = multiset_difference(
                    connection, restored, landed, floats
                )
                assert (missing, extra, restored.num_rows) == (0, 0, landed.num_rows), (
                    f"{table} restored through {path}: {restored.num_rows} rows for {landed.num_rows} landed; "
                    f"{missing} landed rows missing (e.g. {some_missing}), {extra} extra (e.g. {some_extra})"
                )
    return len(sessions) * len(tables)


def pa_array(values: list[str]):
    import pyarrow as pa

    return pa.array(values, type=pa.string())
