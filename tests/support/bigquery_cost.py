"""What BigQuery would bill (on demand) for the statements the emulator ran.

The emulator reports 0 bytes processed for every job (and for dry runs), so this prices each
statement from its SQL, the way BigQuery's documentation defines the bill:

- a query reads the *logical* bytes of every column it references, in every table it scans:
  INT64 / FLOAT64 / DATE / TIMESTAMP / DATETIME / TIME 8, NUMERIC 16, BIGNUMERIC 32, BOOL 1,
  STRING and BYTES 2 + their length, NULL 0 (the same units as logical storage);
- a filter comparing the partition column with a constant (literal, cast of a literal, query
  parameter) reads only the matching partitions; any other filter (a join, a subquery) reads
  all of them;
- a constant equality on the first clustering column reads only that value's blocks: counted
  as the matching rows only (the best case, reached on tables big enough to have many blocks);
- DML (dml-syntax "On-demand query size calculation"): INSERT = q; UPDATE / DELETE = q + t;
  MERGE = q with only INSERT clauses, q + t with an UPDATE or DELETE clause, where q is what
  the statement reads and t the size of the target table (all columns) or of its partitions
  being changed;
- DDL (CREATE TABLE FUNCTION, ALTER, CREATE SCHEMA, DROP), transaction control: free; CTAS and
  EXPORT DATA: what their SELECT reads;
- billed bytes: at least 10 MB per table referenced and per statement (on-demand minimum).

Columns a statement references are found with sqlglot (qualify against the tables' schemas,
then projections pushed down through CTEs and subqueries, as BigQuery prunes unused columns);
table functions (restore_<t>, checksum_<t>, restore_<t>_pruned) are inlined from their bodies
(routines.get) with the call's arguments, and views (cold_history_<t>) from their definitions.
Sizes are measured in the emulator with SQL over the actual rows, at the moment of pricing: price
a run right after it (`price(jobs)`), or, for a command that deletes what it read (tier, prune),
price each statement just before it runs (`priced_while_running`).

Load jobs (reading cold files back, loading them for restores) are free on BigQuery and are not
query jobs: they are not priced. GCS storage and retrieval are priced by `gcs_costs` from the
price list.
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlglot
import sqlglot.expressions as exp
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope

MB = 1024 * 1024
MINIMUM_BILLED = 10 * MB
FIXED_SIZE = {
    "INT64": 8,
    "INTEGER": 8,
    "FLOAT64": 8,
    "FLOAT": 8,
    "DATE": 8,
    "TIMESTAMP": 8,
    "DATETIME": 8,
    "TIME": 8,
    "NUMERIC": 16,
    "BIGNUMERIC": 32,
    "BOOL": 1,
    "BOOLEAN": 1,
}
PARTITION_COMPARISONS = (exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
# Marks the model's own size queries, so that they are never priced themselves.
MEASUREMENT = "/* session_backup cost model */"


def parse_bigquery(sql: str) -> list[exp.Expression]:
    """Statements of a job's SQL (scripts give several), parsed strictly as BigQuery."""
    return [
        statement
        for statement in sqlglot.parse(sql, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
        if statement is not None
    ]


def kind_of(table_id: str) -> str:
    """Cost buckets for `project.dataset.table`: landing, the backup's tables by role, and the
    rest (restored copies, scratch tables)."""
    _, dataset, table_name = (["", ""] + table_id.split("."))[-3:]
    if dataset.endswith("_landing") or dataset == "landing":
        return "landing"
    if "__dbt_tmp" in table_name:
        return "dbt temp"
    for prefix, kind in (
        ("head_", "head"),
        ("history_", "history"),
        ("changes_", "staging"),
        ("checksums_", "staging"),
    ):
        if table_name.startswith(prefix):
            return kind
    for prefix, kind in (
        ("cold_loaded_", "cold"),  # cold files loaded for restores (`load` form)
        ("cold_files_", "cold"),  # the external table over them (`external` form)
        ("cold_check_", "cold scratch"),  # an exported file read back before it commits
    ):
        if table_name.startswith(prefix):
            return kind
    if table_name in (
        "backup_sessions",
        "backup_manifest",
        "backup_lock",
        "cold_manifest",
        "cold_view_state",
    ):
        return "logs"
    return "other"


@dataclass
class Priced:
    scanned: int = 0  # logical bytes read
    billed: int = 0  # with the 10 MB minimums
    by_table: dict[str, int] = field(default_factory=dict)  # bucket -> bytes read
    statements: list[tuple[str, int, int]] = field(
        default_factory=list
    )  # (summary, scanned, billed)
    unpriced: list[str] = field(default_factory=list)
    # (role, bucket) -> bytes read; the role is "merge <bucket>" for a MERGE (its source and
    # its billed target), "read" for every other statement: Head's comparison reads and its
    # MERGE are then told apart.
    by_role: dict[tuple[str, str], int] = field(default_factory=dict)


class CostModel:
    def __init__(self, deployment) -> None:
        self.deployment = deployment
        self.client = deployment.client
        self._schemas: dict[tuple[str, str, str], dict[str, str]] = {}
        self._partitioning: dict[tuple[str, str, str], tuple[str | None, list[str]]] = {}
        self._routines: dict[tuple[str, str, str], tuple[list[str], str]] = {}
        self._views: dict[tuple[str, str, str], str] = {}
        self._bytes: dict[tuple, int] = {}

    def forget(self) -> None:
        """Drops every cached schema and size (tables change while a command runs)."""
        self._schemas.clear()
        self._partitioning.clear()
        self._routines.clear()
        self._views.clear()
        self._bytes.clear()

    # -- catalog ----------------------------------------------------------------------------

    def schema(self, project: str, dataset: str, table: str) -> dict[str, str]:
        """Columns and types; a table dropped since (dbt's __dbt_tmp tables) has none and is
        priced at 0 bytes (it held the rows the statement then wrote: the batch's changes)."""
        from google.api_core.exceptions import NotFound

        key = (project, dataset, table)
        if key not in self._schemas:
            try:
                found = self.client.get_table(f"{project}.{dataset}.{table}")
            except NotFound:
                self._schemas[key], self._partitioning[key] = {}, (None, [])
                return self._schemas[key]
            self._schemas[key] = {f.name: f.field_type for f in found.schema}
            if found.table_type == "VIEW" and found.view_query:
                self._views[key] = found.view_query
            partition = found.time_partitioning.field if found.time_partitioning else None
            if partition is None and table.startswith("history_"):
                partition = "backup_closed_date"  # partitioned by the DDL (the emulator keeps it)
            cluster = list(found.clustering_fields or [])
            if not cluster and table.startswith(("history_", "head_")):
                cluster = ["backup_scope"]  # clustered by the DDL; the emulator drops clustering
            self._partitioning[key] = (partition, cluster)
        return self._schemas[key]

    def routine(self, project: str, dataset: str, name: str) -> tuple[list[str], str]:
        key = (project, dataset, name)
        if key not in self._routines:
            found = self.client.get_routine(f"{project}.{dataset}.{name}")
            self._routines[key] = ([argument.name for argument in found.arguments], found.body)
        return self._routines[key]

    # -- sizes ------------------------------------------------------------------------------

    def _size_expression(self, column: str, kind: str) -> str:
        quoted = f"`{column}`"
        if kind in FIXED_SIZE:
            return f"if({quoted} is null, 0, {FIXED_SIZE[kind]})"
        if kind == "STRING":
            return f"if({quoted} is null, 0, 2 + byte_length({quoted}))"
        if kind == "BYTES":
            return f"if({quoted} is null, 0, 2 + length({quoted}))"
        return f"if({quoted} is null, 0, 8)"  # not used by this project

    def column_bytes(
        self, table: tuple[str, str, str], columns: list[str], where: str | None = None
    ) -> int:
        """Logical bytes of `columns` in the rows of `table` that `where` keeps (None: all)."""
        schema = self.schema(*table)
        columns = sorted({column for column in columns if column in schema})
        key = (table, tuple(columns), where)
        if key not in self._bytes:
            if not columns:
                self._bytes[key] = 0
            else:
                total = " + ".join(
                    self._size_expression(column, schema[column]) for column in columns
                )
                sql = f"{MEASUREMENT} select coalesce(sum({total}), 0) from `{table[0]}`.`{table[1]}`.`{table[2]}`"
                if where:
                    sql += f" where {where}"
                self._bytes[key] = int(self.deployment.query(sql)[0][0])
        return self._bytes[key]

    def table_bytes(self) -> dict[str, int]:
        """Current logical size of the backup's tables by bucket."""
        sizes: dict[str, int] = {}
        for table in self.client.list_tables(
            f"{self.deployment.client.project}.{self.deployment.dataset}"
        ):
            if table.table_type != "TABLE":
                continue
            key = (table.project, table.dataset_id, table.table_id)
            bucket = kind_of(".".join(key))
            sizes[bucket] = sizes.get(bucket, 0) + self.column_bytes(key, list(self.schema(*key)))
        return sizes

    def landing_bytes(self, session_ids: list[str]) -> int:
        """Logical bytes the given sessions landed, all landing tables together."""
        dataset = self.deployment.landing_dataset
        total = 0
        quoted = ", ".join("'" + session_id.replace("'", "\\'") + "'" for session_id in session_ids)
        for table in self.client.list_tables(f"{self.deployment.client.project}.{dataset}"):
            key = (table.project, dataset, table.table_id)
            total += self.column_bytes(key, list(self.schema(*key)), f"session_id in ({quoted})")
        return total

    # -- pricing ----------------------------------------------------------------------------

    def price(self, jobs: list, params: dict[str, Any] | None = None) -> Priced:
        """Prices the jobs. The emulator does not keep query parameters with its jobs: pass the
        values the statements ran with in `params` (a filter on a parameter whose value is
        unknown is priced as reading everything)."""
        priced = Priced()
        for job in jobs:
            self.price_job(job, params, priced)
        return priced

    def price_job(self, job, params: dict[str, Any] | None, priced: Priced) -> None:
        """Adds one job's statements to `priced`."""
        if (job.query or "").startswith(MEASUREMENT):
            return
        params = {
            **(params or {}),
            **{
                p.name: getattr(p, "value", getattr(p, "values", None))
                for p in (job.query_parameters or [])
            },
        }
        try:
            statements = parse_bigquery(job.query)
        except sqlglot.errors.ParseError as error:
            priced.unpriced.append(f"{job.query[:120]!r}: {error}")
            return
        for statement in statements:
            try:
                _, tables = self.price_statement(statement, params)
            except Exception as error:  # noqa: BLE001 - reported, and the test fails on it
                priced.unpriced.append(
                    f"{statement.sql('bigquery')[:160]!r}: {type(error).__name__}: {error}"
                )
                continue
            if tables is None:
                continue  # free (DDL, transaction control)
            billed = max(MINIMUM_BILLED, sum(max(MINIMUM_BILLED, size) for size in tables.values()))
            priced.scanned += sum(tables.values())
            priced.billed += billed
            role = (
                f"merge {kind_of('.'.join(self._table_key(statement.this)))}"
                if isinstance(statement, exp.Merge)
                else "read"
            )
            for name, size in tables.items():
                bucket = kind_of(name)
                priced.by_table[bucket] = priced.by_table.get(bucket, 0) + size
                priced.by_role[role, bucket] = priced.by_role.get((role, bucket), 0) + size
            summary = " ".join(statement.sql("bigquery", comments=False).split())[:100]
            priced.statements.append((summary, sum(tables.values()), billed))

    def price_statement(
        self, statement: exp.Expression, params: dict[str, Any]
    ) -> tuple[int, dict[str, int] | None]:
        """(bytes read, {table: bytes}) of one statement; (0, None) when it is free."""
        if isinstance(statement, (exp.Transaction, exp.Commit, exp.Rollback, exp.Alter, exp.Drop)):
            return 0, None
        if isinstance(statement, exp.Create):
            if (
                statement.kind in ("FUNCTION", "TABLE FUNCTION", "SCHEMA", "VIEW")
                or statement.expression is None
                or not isinstance(statement.expression, (exp.Query, exp.Subquery))
            ):
                return 0, None
            return self._read(statement.expression, params)
        if isinstance(statement, exp.Export):
            return self._read(statement.this, params)  # the SELECT it exports
        if isinstance(statement, exp.Insert):
            return self._read(statement.expression, params)
        if isinstance(statement, exp.Merge):
            return self._merge(statement, params)
        if isinstance(statement, (exp.Delete, exp.Update)):
            return self._delete_or_update(statement, params)
        if isinstance(statement, exp.Query):
            if any(
                table.db.upper() == "INFORMATION_SCHEMA"
                or table.name.upper() == "INFORMATION_SCHEMA"
                for table in statement.find_all(exp.Table)
            ):
                return 0, {"INFORMATION_SCHEMA": 0}  # metadata: billed the 10 MB minimum
            return self._read(statement, params)
        raise ValueError(f"no price for {type(statement).__name__}")

    def _merge(self, merge: exp.Merge, params) -> tuple[int, dict[str, int]]:
        target = merge.this
        key = self._table_key(target)
        using = merge.args["using"]
        source = (
            using.this if isinstance(using, exp.Subquery) else exp.select("*").from_(using.copy())
        )
        _, tables = self._read(
            source if isinstance(source, exp.Query) else exp.select("*").from_(source), params
        )
        alias = target.alias_or_name
        referenced = {
            column.name
            for node in [merge.args.get("on")] + list(merge.args["whens"].expressions)
            if node is not None
            for column in node.find_all(exp.Column)
            if column.table == alias
        }
        # Any clause but INSERT (an UPDATE or a DELETE) makes BigQuery bill the whole target.
        updates = any(
            not isinstance(when.args.get("then"), exp.Insert)
            for when in merge.args["whens"].expressions
        )
        name = ".".join(key)
        if updates:
            # A constant filter on the target in ON (partition, first clustering column)
            # limits "the whole target" to the partitions / blocks it keeps.
            kept = self._partition_predicate(key, None, alias, params, [merge.args.get("on")])
            tables[name] = tables.get(name, 0) + self.column_bytes(
                key, list(self.schema(*key)), kept
            )
        elif referenced:
            tables[name] = tables.get(name, 0) + self.column_bytes(key, list(referenced))
        return sum(tables.values()), tables

    def _delete_or_update(self, statement, params) -> tuple[int, dict[str, int]]:
        target = statement.this
        key = self._table_key(target)
        select = exp.select("*").from_(target.copy())
        if statement.args.get("where") is not None:
            select = select.where(statement.args["where"].this.copy())
        _, tables = self._read(select, params)
        name = ".".join(key)
        where = self._partition_predicate(
            key, statement.args.get("where"), target.alias_or_name, params
        )
        tables[name] = tables.get(name, 0) + self.column_bytes(
            key, list(self.schema(*key)), where
        )  # + t
        return sum(tables.values()), tables

    # -- reading ----------------------------------------------------------------------------

    def _table_key(self, table: exp.Table) -> tuple[str, str, str]:
        project = table.catalog or self.deployment.client.project
        return (project, table.db, table.name)

    def _inline_functions(self, query: exp.Expression) -> exp.Expression:
        """restore_<t>(args) -> (its body with the arguments in place of its parameters)."""
        for table in list(query.find_all(exp.Table)):
            function = table.this
            if not isinstance(function, exp.Anonymous):
                continue
            names, body = self.routine(table.catalog, table.db, function.name)
            inlined = sqlglot.parse_one(body, read="bigquery")
            arguments = dict(zip(names, function.expressions))
            for column in list(inlined.find_all(exp.Column)):
                if not column.table and column.name in arguments:
                    column.replace(arguments[column.name].copy())
            inlined = self._inline_functions(inlined)
            table.replace(
                exp.Subquery(
                    this=inlined,
                    alias=exp.TableAlias(this=exp.to_identifier(table.alias or function.name)),
                )
            )
        return query

    def _inline_views(self, query: exp.Expression) -> exp.Expression:
        """A view reads what its definition reads: cold_history_<t> -> (its SELECT)."""
        for table in list(query.find_all(exp.Table)):
            if not (isinstance(table.this, exp.Identifier) and table.db):
                continue
            key = self._table_key(table)
            self.schema(*key)
            if key not in self._views:
                continue
            inlined = self._inline_views(sqlglot.parse_one(self._views[key], read="bigquery"))
            table.replace(
                exp.Subquery(
                    this=inlined,
                    alias=exp.TableAlias(this=exp.to_identifier(table.alias or table.name)),
                )
            )
        return query

    def _read(self, query: exp.Expression, params) -> tuple[int, dict[str, int]]:
        """Bytes a query reads per base table."""
        query = self._inline_views(self._inline_functions(query.copy()))
        schema: dict = {}
        for table in query.find_all(exp.Table):
            if isinstance(table.this, exp.Identifier) and table.db:
                key = self._table_key(table)
                columns = self.schema(*key)
                if columns:  # a dropped temp table stays unknown (and priced at 0)
                    schema.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = dict(columns)
        query = qualify(
            query,
            schema=schema,
            dialect="bigquery",
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        query = pushdown_projections(query, schema=schema)
        reads: dict[tuple, list] = {}
        root = build_scope(query)
        for scope in root.traverse() if root else []:
            for alias, (node, source) in scope.selected_sources.items():
                if not isinstance(source, exp.Table) or not source.db:
                    continue
                key = self._table_key(source)
                columns = {column.name for column in scope.columns if column.table == alias}
                if any(
                    isinstance(select, exp.Star)
                    for select in scope.expression.expressions
                    if isinstance(scope.expression, exp.Select)
                ):
                    columns |= set(self.schema(*key))
                where = (
                    scope.expression.args.get("where")
                    if isinstance(scope.expression, exp.Select)
                    else None
                )
                joins = (
                    [join.args.get("on") for join in scope.expression.args.get("joins") or []]
                    if isinstance(scope.expression, exp.Select)
                    else []
                )
                predicate = self._partition_predicate(key, where, alias, params, joins)
                reads.setdefault(key, []).append((columns, predicate))
        tables: dict[str, int] = {}
        for key, uses in reads.items():
            name = ".".join(key)
            # One scan per table reference; columns of every reference together when the
            # filters agree (BigQuery reads a column once per scan of the table).
            for columns, predicate in uses:
                tables[name] = tables.get(name, 0) + self.column_bytes(
                    key, list(columns), predicate
                )
        return sum(tables.values()), tables

    def _partition_predicate(self, key, where, alias, params, joins=()) -> str | None:
        """The SQL predicate (on the table itself) of the partitions and clustered blocks a
        scope's constant filters keep; None when it reads everything. AND keeps what any side
        keeps; OR keeps something only when both sides do (`(a) or (b)`)."""
        partition, cluster = self._partitioning.get(key) or (
            self.schema(*key) and self._partitioning[key]
        )

        def pruning(node) -> str | None:
            if isinstance(node, (exp.Where, exp.Paren)):
                return pruning(node.this)
            if isinstance(node, exp.And):
                kept = [part for part in (pruning(node.left), pruning(node.right)) if part]
                return " and ".join(kept) or None
            if isinstance(node, exp.Or):
                left, right = pruning(node.left), pruning(node.right)
                return f"({left}) or ({right})" if left and right else None
            if isinstance(node, (*PARTITION_COMPARISONS, exp.Between, exp.In)):
                return constant_filter(node)
            return None  # NOT, EXISTS, a subquery, a function: prunes nothing

        def constant_filter(comparison) -> str | None:
            column = comparison.this
            if not isinstance(column, exp.Column) or column.table not in (alias, ""):
                return None
            on_cluster = (
                bool(cluster)
                and column.name == cluster[0]
                and isinstance(comparison, (exp.EQ, exp.In))
            )
            if column.name != partition and not on_cluster:
                return None
            if isinstance(comparison, exp.Between):
                others = [comparison.args["low"], comparison.args["high"]]
            elif isinstance(comparison, exp.In):
                if (
                    comparison.args.get("query") is not None
                    or comparison.args.get("unnest") is not None
                ):
                    return None  # IN (subquery): not a constant filter
                others = list(comparison.expressions)
            else:
                others = [comparison.expression]
            known = all(
                parameter.name in params
                for other in others
                for parameter in other.find_all(exp.Parameter)
            )
            if not known or not all(self._constant(other) for other in others):
                return None
            rendered = comparison.copy()
            rendered.this.set("table", None)
            for parameter in list(rendered.find_all(exp.Parameter)):
                parameter.replace(self._literal(params.get(parameter.name)))
            return rendered.sql("bigquery")

        conditions = [pruning(clause) for clause in [where, *joins] if clause is not None]
        return " and ".join(condition for condition in conditions if condition) or None

    @staticmethod
    def _constant(node: exp.Expression) -> bool:
        return not list(node.find_all(exp.Column, exp.Select))

    @staticmethod
    def _literal(value: Any) -> exp.Expression:
        if value is None:
            return exp.null()
        if isinstance(value, datetime.datetime):
            return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
        if hasattr(value, "isoformat"):
            return exp.cast(exp.Literal.string(str(value)), "DATE")
        if isinstance(value, (int, float)):
            return exp.Literal.number(value)
        return exp.Literal.string(str(value))

    # -- reporting --------------------------------------------------------------------------

    @staticmethod
    def report(title: str, priced: Priced, sizes: dict[str, int], unit: str = "MiB") -> str:
        """A priced run in a few lines; `unit` MiB or KiB for the bytes read (billed bytes are
        always MiB: the 10 MB minimums make them large)."""
        scale = {"MiB": MB, "KiB": 1024}[unit]
        lines = [
            (
                f"{title}: {len(priced.statements)} billed statements, {priced.scanned / scale:.2f} {unit} read "
                f"(billed with 10 MB minimums: {priced.billed / MB:.0f} MiB)"
            )
        ]
        lines.append(
            "  read by table kind: "
            + ", ".join(
                f"{kind} {size / scale:.2f} {unit}"
                for kind, size in sorted(priced.by_table.items())
            )
        )
        lines.append(
            "  backup size now:    "
            + ", ".join(f"{kind} {size / scale:.2f} {unit}" for kind, size in sorted(sizes.items()))
        )
        for summary, scanned, _ in sorted(priced.statements, key=lambda item: -item[1])[
            : int(os.environ.get("COST_LINES", "8"))
        ]:
            lines.append(f"  {scanned / scale:8.2f} {unit}  {summary}")
        return "\n".join(lines)


@contextmanager
def priced_while_running(model: CostModel) -> Iterator[Priced]:
    """Every query job this process sends while inside (the CLI, the cold commands and dbt all
    go through `bigquery.Client.query`), priced just before it runs, with its own query
    parameters, on the tables as they are at that moment: what a statement reads is still
    there even when a later one deletes it (tier, prune)."""
    from google.cloud import bigquery

    original = bigquery.Client.query
    priced = Priced()
    pricing = threading.local()  # the model's own size queries go straight through
    lock = threading.Lock()

    def query(client, *args, **kwargs):
        sql = args[0] if args else kwargs.get("query", "")
        job_config = args[1] if len(args) > 1 else kwargs.get("job_config")
        if not getattr(pricing, "active", False) and not str(sql).startswith(MEASUREMENT):
            with lock:
                pricing.active = True
                try:
                    model.forget()
                    parameters = list(getattr(job_config, "query_parameters", None) or [])
                    model.price_job(
                        SimpleNamespace(query=sql, query_parameters=parameters), None, priced
                    )
                finally:
                    pricing.active = False
        return original(client, *args, **kwargs)

    bigquery.Client.query = query
    try:
        yield priced
    finally:
        bigquery.Client.query = original


GIB = float(1 << 30)
TIB = float(1 << 40)


def query_usd(priced: Priced, prices: dict) -> float:
    """On-demand price of the billed bytes (USD per TiB from the price list)."""
    return priced.billed / TIB * float(prices["bigquery"]["query_per_tib"])


def gcs_costs(cold_bytes: int, prices: dict) -> dict[str, dict[str, float]]:
    """Per GCS storage class of the price list: storage per month, the least a file costs
    (minimum storage duration), and one full read of it (retrieval fee) for `cold_bytes`."""
    gcs = prices["gcs"]
    costs = {}
    for storage_class in ("standard", "nearline", "coldline", "archive"):
        monthly = cold_bytes / GIB * float(gcs[storage_class])
        minimum_days = int(gcs.get("minimum_storage_days", {}).get(storage_class, 0))
        costs[storage_class] = {
            "usd_per_month": monthly,
            "minimum_storage_days": minimum_days,
            "minimum_usd": monthly * minimum_days / 30,
            "retrieval_usd_per_read": cold_bytes
            / GIB
            * float(gcs.get("retrieval_per_gib", {}).get(storage_class, 0.0)),
        }
    return costs
