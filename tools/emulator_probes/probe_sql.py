"""Probe bqemulator + fake-gcs-server with the real Google clients.

    .venv/bin/python tools/emulator_probes/probe_sql.py [--state-dir DIR] [--out results.json]

Starts its own emulators (scripts/emulators.py) unless BQ_EMULATOR_ENDPOINT is set.
Prints one line per feature: ok / DIFF (runs, wrong answer) / ERROR (exact message).
"""

# ruff: noqa: PLC3002  (probe checks are lambdas on purpose)
from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import tempfile
from pathlib import Path

from _probe_common import Recorder, emulators

P = "local-proj"
DS = "probe"


def make_clients(env):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery, storage

    bq = bigquery.Client(
        project=P,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": env["BQ_EMULATOR_ENDPOINT"]},
    )
    os.environ["STORAGE_EMULATOR_HOST"] = env["STORAGE_EMULATOR_HOST"]
    gcs = storage.Client(project=P, credentials=AnonymousCredentials())
    return bq, gcs


def run_bq(bq, env, rec: Recorder):
    from google.cloud import bigquery

    def q(sql, params=None):
        cfg = bigquery.QueryJobConfig(query_parameters=params or [])
        return [tuple(r.values()) for r in bq.query(sql, job_config=cfg).result()]

    def ex(sql):
        return lambda: q(sql)

    bq.create_dataset(DS, exists_ok=True)

    def fresh():
        q(f"create or replace table {DS}.tgt (id INT64, v STRING, flag STRING)")
        q(f"insert into {DS}.tgt values (1,'a',null),(2,'b',null),(3,'c',null)")
        q(f"create or replace table {DS}.src (id INT64, v STRING, op STRING)")
        q(f"insert into {DS}.src values (1,'a2','D'),(2,'b2','U'),(4,'d','I'),(5,'e','skip')")

    def after(*sqls, check):
        fresh()
        for s_ in sqls:
            q(s_)
        return q(check)

    tgt_rows = f"select id, v, flag from {DS}.tgt order by id"
    # ---- MERGE
    merge_head = f"""merge {DS}.tgt t using {DS}.src s on t.id = s.id
                 when matched and s.op = 'D' then delete
                 when matched then update set v = s.v, flag = s.op"""
    rec.check(
        "MERGE: MATCHED AND cond DELETE / MATCHED UPDATE / NOT MATCHED AND cond INSERT ROW",
        lambda: after(
            merge_head + " when not matched and s.op = 'I' then insert row", check=tgt_rows
        ),
        [(2, "b2", "U"), (3, "c", None), (4, "d", "I")],
    )
    rec.check(
        "MERGE: same, with NOT MATCHED AND cond THEN INSERT (id, v, flag) VALUES (...)",
        lambda: after(
            merge_head + " when not matched and s.op = 'I' then insert (id, v, flag) "
            "values (s.id, s.v, s.op)",
            check=tgt_rows,
        ),
        [(2, "b2", "U"), (3, "c", None), (4, "d", "I")],
    )
    rec.check(
        "MERGE: NOT MATCHED THEN INSERT (col subset) VALUES",
        lambda: after(
            f"""merge {DS}.tgt t using {DS}.src s on t.id = s.id
                 when not matched then insert (id, v) values (s.id, concat('n', s.v))""",
            check=f"select id, v from {DS}.tgt where id >= 4 order by id",
        ),
        [(4, "nd"), (5, "ne")],
    )
    rec.check(
        "MERGE: NOT MATCHED BY SOURCE THEN DELETE",
        lambda: after(
            f"""merge {DS}.tgt t using {DS}.src s on t.id = s.id
                 when not matched by source then delete""",
            check=f"select id from {DS}.tgt order by id",
        ),
        [(1,), (2,)],
    )
    rec.check(
        "MERGE: NOT MATCHED BY SOURCE AND cond THEN UPDATE",
        lambda: after(
            f"""merge {DS}.tgt t using {DS}.src s on t.id = s.id
                 when not matched by source and t.id = 3 then update set flag = 'gone'""",
            check=f"select id, flag from {DS}.tgt where id = 3",
        ),
        [(3, "gone")],
    )
    rec.check(
        "MERGE: ON FALSE (insert-all + delete-by-source idiom)",
        lambda: after(
            f"""merge {DS}.tgt t using (select 9 id, 'z' v) s on false
                 when not matched then insert (id, v) values (s.id, s.v)
                 when not matched by source and t.id = 3 then delete""",
            check=f"select id from {DS}.tgt order by id",
        ),
        [(1,), (2,), (9,)],
    )
    rec.check(
        "MERGE: source with duplicate keys (BigQuery: error 'UPDATE/MERGE must match at most one source row')",
        lambda: after(
            f"""merge {DS}.tgt t using (select 1 id, 'x' v union all select 1, 'y') s
                 on t.id = s.id when matched then update set v = s.v""",
            check=tgt_rows,
        ),
    )

    def affected():
        fresh()
        return bq.get_job(
            bq.query(f"update {DS}.tgt set flag='y' where id in (1,2)").job_id
        ).num_dml_affected_rows

    rec.check("DML job num_dml_affected_rows (UPDATE 2 rows)", affected, 2)

    # ---- transactions / scripting
    def tx(script):
        q(f"create or replace table {DS}.tx (id INT64)")
        q(f"insert into {DS}.tx values (1)")
        try:
            q(script)
            outcome = "job ok"
        except Exception as exc:  # noqa: BLE001
            outcome = "job error: " + " ".join(str(getattr(exc, "message", exc)).split())[:160]
        return outcome, [r[0] for r in q(f"select id from {DS}.tx order by id")]

    rec.check(
        "txn: BEGIN TRANSACTION; INSERT; COMMIT TRANSACTION;",
        lambda: tx(f"BEGIN TRANSACTION; insert into {DS}.tx values (2); COMMIT TRANSACTION;"),
        ("job ok", [1, 2]),
    )
    rec.check(
        "txn: BEGIN TRANSACTION; INSERT; ROLLBACK TRANSACTION;",
        lambda: tx(f"BEGIN TRANSACTION; insert into {DS}.tx values (2); ROLLBACK TRANSACTION;"),
        ("job ok", [1]),
    )
    rec.check(
        "txn: error after INSERT, no handler (BigQuery: job fails, txn rolled back)",
        lambda: tx(
            f"BEGIN TRANSACTION; insert into {DS}.tx values (2); select error('boom'); "
            "COMMIT TRANSACTION;"
        )[1],
        [1],
    )
    rec.check(
        "txn: BEGIN BEGIN TRANSACTION; INSERT; error; COMMIT; EXCEPTION WHEN ERROR THEN ROLLBACK TRANSACTION; END "
        "(BigQuery docs pattern: insert undone)",
        lambda: tx(f"""BEGIN
                   BEGIN TRANSACTION;
                   insert into {DS}.tx values (2);
                   select error('boom');
                   COMMIT TRANSACTION;
                 EXCEPTION WHEN ERROR THEN
                   ROLLBACK TRANSACTION;
                 END;"""),
        ("job ok", [1]),
    )
    rec.check(
        "txn: same with 1/0 and SELECT @@error.message before ROLLBACK (exact BigQuery docs example)",
        lambda: tx(f"""BEGIN
                   BEGIN TRANSACTION;
                   insert into {DS}.tx values (2);
                   SELECT 1/0;
                   COMMIT TRANSACTION;
                 EXCEPTION WHEN ERROR THEN
                   SELECT @@error.message;
                   ROLLBACK TRANSACTION;
                 END;"""),
        ("job ok", [1]),
    )
    rec.check(
        "txn: DELETE+INSERT in txn then error+handler ROLLBACK (delete undone?)",
        lambda: tx(f"""BEGIN
                   BEGIN TRANSACTION;
                   delete from {DS}.tx where true;
                   insert into {DS}.tx values (7);
                   select error('boom');
                   COMMIT TRANSACTION;
                 EXCEPTION WHEN ERROR THEN
                   ROLLBACK TRANSACTION;
                 END;"""),
        ("job ok", [1]),
    )
    rec.check(
        "txn: two tables, MERGE + INSERT, COMMIT",
        lambda: (
            fresh(),
            tx(f"""BEGIN TRANSACTION;
                   merge {DS}.tgt t using {DS}.src s on t.id = s.id when matched then delete;
                   insert into {DS}.tx select count(*) from {DS}.tgt;
                   COMMIT TRANSACTION;"""),
        )[1],
        ("job ok", [1, 1]),
    )
    rec.check(
        "script: SELECT @@error.message in handler",
        lambda: q(
            "BEGIN SELECT error('inner'); EXCEPTION WHEN ERROR THEN SELECT @@error.message; END;"
        ),
    )
    rec.check(
        "script: RAISE USING MESSAGE = concat(..., @@error.message)",
        lambda: tx(
            "BEGIN select error('inner'); EXCEPTION WHEN ERROR THEN "
            "RAISE USING MESSAGE = concat('wrapped: ', @@error.message); END;"
        )[0],
    )
    rec.check(
        "script: DECLARE/SET/WHILE/IF + last SELECT returned",
        ex("""DECLARE n INT64 DEFAULT 0; DECLARE s STRING;
                   SET s = 'x'; WHILE n < 3 DO SET n = n + 1; END WHILE;
                   IF n = 3 THEN SELECT n, s; ELSE SELECT -1, s; END IF;"""),
        [(3, "x")],
    )
    rec.check(
        "script: CREATE TEMP TABLE used later in script",
        lambda: (
            fresh(),
            q(f"""CREATE TEMP TABLE tmp_ids AS SELECT id FROM {DS}.tgt;
                    INSERT INTO tmp_ids VALUES (100);
                    SELECT count(*) FROM tmp_ids;"""),
        )[1],
        [(4,)],
    )
    rec.check(
        "script: temp table name visible to a later job? (BigQuery: no)",
        lambda: q("select count(*) from tmp_ids"),
    )
    rec.check(
        "script: EXECUTE IMMEDIATE ... INTO ... USING",
        ex("DECLARE r INT64; EXECUTE IMMEDIATE 'select ? + 1' INTO r USING 41; SELECT r;"),
        [(42,)],
    )
    rec.check(
        "script: DECLARE x DEFAULT (SELECT ...) + FOR row IN (SELECT ...) DO",
        ex("""DECLARE total INT64 DEFAULT (SELECT 0);
                    FOR r IN (SELECT x FROM UNNEST([1,2,3]) x) DO SET total = total + r.x; END FOR;
                    SELECT total;"""),
        [(6,)],
    )
    rec.check(
        "script: CALL stored procedure",
        lambda: (
            q(f"""create or replace procedure {DS}.p(x INT64) begin
                             insert into {DS}.tx values (x); end"""),
            q(f"CALL {DS}.p(42)"),
            q(f"select count(*) from {DS}.tx where id = 42"),
        )[2],
        [(1,)],
    )

    # ---- table functions
    q(f"create or replace table {DS}.hist (session_id STRING, k INT64)")
    q(f"insert into {DS}.hist values ('s1',1),('s1',2),('s2',3)")
    rec.check(
        "CREATE OR REPLACE TABLE FUNCTION ds.f(session_id STRING) AS (select ...)",
        ex(f"""create or replace table function {DS}.at_session(session_id STRING) as (
                   select k from {DS}.hist h where h.session_id = session_id)"""),
    )
    rec.check(
        "call table function: select * from ds.f('s1')",
        lambda: sorted(q(f"select * from {DS}.at_session('s1')")),
        [(1,), (2,)],
    )
    rec.check(
        "call table function with @param argument",
        lambda: sorted(
            q(
                f"select * from {DS}.at_session(@sid)",
                [bigquery.ScalarQueryParameter("sid", "STRING", "s2")],
            )
        ),
        [(3,)],
    )
    rec.check(
        "table function listed by client.list_routines",
        lambda: [(r.routine_id, r.type_) for r in bq.list_routines(DS)],
    )
    rec.check(
        "CREATE TEMP FUNCTION (SQL UDF)",
        lambda: q("create temp function plus1(x INT64) as (x + 1); select plus1(1)"),
        [(2,)],
    )
    rec.check(
        "CREATE OR REPLACE FUNCTION ds.f (persistent SQL UDF)",
        lambda: (
            q(f"create or replace function {DS}.plus2(x INT64) returns INT64 as (x + 2)"),
            q(f"select {DS}.plus2(1)"),
        )[1],
        [(3,)],
    )

    # ---- hashing & bit ops
    rec.check(
        "FARM_FINGERPRINT (GoogleSQL docs example values)",
        lambda: q("""select farm_fingerprint(concat(cast(x as string), y, cast(z as string))) from (
                  select 1 as x, 'foo' as y, true as z union all select 2, 'apple', false union all select 3, '', true)
                  order by x"""),
        [(-1541654101129638711,), (2794438866806483259,), (-4880158226897771312,)],
    )
    rec.check(
        "MD5 / SHA256 / TO_HEX",
        lambda: q("select to_hex(md5('Hello World')), substr(to_hex(sha256('a')), 1, 8)"),
        [("b10a8db164e0754105b7a99be72e3fe5", "ca978112")],
    )
    rec.check(
        "FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(col AS name)))",
        lambda: q(
            "select to_json_string(struct(1 as a, 'x' as b)), "
            "farm_fingerprint(to_json_string(struct(1 as a, 'x' as b)))"
        ),
    )
    # Expected strings follow the GoogleSQL "JSON encodings" table (TO_JSON_STRING).
    for label, expr, bq_doc in [
        (
            "INT64 / STRING / BOOL / NULL",
            "struct(1 as i, 'x\"y' as s, true as b, cast(null as string) as n)",
            '{"i":1,"s":"x\\"y","b":true,"n":null}',
        ),
        (
            "INT64 > 2^53 (doc: quoted string)",
            "struct(9007199254740993 as i)",
            '{"i":"9007199254740993"}',
        ),
        ("FLOAT64 1.0, 1.5", "struct(1.0 as a, 1.5 as f)", '{"a":1,"f":1.5}'),
        ("FLOAT64 1e20", "struct(1e20 as g)", '{"g":1e+20}'),
        (
            'FLOAT64 NaN, +inf (doc: "NaN", "Infinity")',
            "struct(cast('nan' as float64) as n, cast('inf' as float64) as i)",
            '{"n":"NaN","i":"Infinity"}',
        ),
        (
            'NUMERIC 2 / 1.50 (doc: 2 / "1.5")',
            "struct(numeric '2' as a, numeric '1.50' as n)",
            '{"a":2,"n":"1.5"}',
        ),
        (
            "BIGNUMERIC 30 integer digits",
            "struct(bignumeric '123456789012345678901234567890.5' as b)",
            '{"b":"123456789012345678901234567890.5"}',
        ),
        (
            "DATE / TIMESTAMP / DATETIME",
            (
                "struct(date '2024-01-02' as d, timestamp '2024-01-02 03:04:05.123456 UTC' as t, "
                "datetime '2024-01-02 03:04:05' as dt)"
            ),
            '{"d":"2024-01-02","t":"2024-01-02T03:04:05.123456Z","dt":"2024-01-02T03:04:05"}',
        ),
        ("BYTES", "struct(from_base64('Af8=') as by)", '{"by":"Af8="}'),
        (
            "ARRAY / nested STRUCT",
            "struct([1,2] as a, struct('x' as y) as s)",
            '{"a":[1,2],"s":{"y":"x"}}',
        ),
    ]:
        rec.check(
            f"TO_JSON_STRING {label}", lambda e=expr: q(f"select to_json_string({e})")[0][0], bq_doc
        )
    rec.check(
        "TO_JSON_STRING of a table row alias (t)",
        lambda: q(f"select to_json_string(t) from {DS}.hist t where k = 1"),
    )
    rec.check("bitwise ^ on INT64", lambda: q("select 6 ^ 3, -1 ^ 1"), [(5, -2)])
    rec.check(
        "& 0xFFFFFFFF on negative INT64", lambda: q("select -1 & 0xFFFFFFFF"), [(4294967295,)]
    )
    rec.check(
        ">> on negative INT64 (BigQuery: logical shift, no sign extension)",
        lambda: q("select -8 >> 1, -1 >> 32, (-1 >> 32) & 0xFFFFFFFF, -1 >> 63"),
        [(9223372036854775804, 4294967295, 4294967295, 1)],
    )
    rec.check(
        ">> on positive INT64",
        lambda: q("select 1024 >> 3, 9223372036854775807 >> 32"),
        [(128, 2147483647)],
    )
    rec.check(
        "<< into/over the sign bit (BigQuery: high bits dropped)",
        lambda: q("select 1 << 62, 1 << 63, 3 << 63"),
        [(4611686018427387904, -9223372036854775808, -9223372036854775808)],
    )
    rec.check("BIT_XOR(INT64)", lambda: q("select bit_xor(x) from unnest([1, 2, 4, 1]) x"), [(6,)])
    rec.check(
        "SUM(h & 0xFFFFFFFF), SUM(h >> 32) on FARM_FINGERPRINT",
        lambda: q(
            "select sum(farm_fingerprint(cast(x as string)) & 0xFFFFFFFF), "
            "sum(farm_fingerprint(cast(x as string)) >> 32) from unnest(generate_array(1,1000)) x"
        ),
    )
    rec.check(
        "SUM(INT64) overflow (BigQuery: error 'int64 overflow')",
        lambda: q("select sum(x) from unnest([9223372036854775807, 1]) x"),
    )
    rec.check(
        "result type of SUM(INT64) in table (CREATE TABLE AS)",
        lambda: (
            q(f"create or replace table {DS}.s as select sum(x) s from unnest([1,2]) x"),
            [(f.name, f.field_type) for f in bq.get_table(f"{DS}.s").schema],
        )[1],
        [("s", "INTEGER")],
    )
    rec.check(
        "UNNEST(GENERATE_ARRAY(1, n))",
        lambda: q("select count(*), sum(i) from unnest(generate_array(1, 10)) i"),
        [(10, 55)],
    )
    rec.check(
        "CROSS JOIN UNNEST(GENERATE_ARRAY(1, t.n))",
        lambda: q(
            "select count(*) from (select 3 n union all select 2) t, unnest(generate_array(1, t.n)) i"
        ),
        [(5,)],
    )
    q(f"create or replace table {DS}.w (g STRING, k INT64)")
    q(f"insert into {DS}.w values ('a', 1), ('a', 2), ('b', 5)")
    rec.check(
        "LAG/LEAD/SUM() OVER (PARTITION BY .. ORDER BY ..) on a table",
        lambda: (
            q(f"""select k, lag(k) over (partition by g order by k), lead(k) over (partition by g order by k),
                 sum(k) over (partition by g order by k) from {DS}.w order by k""")
        ),
        [(1, None, 2, 1), (2, 1, None, 3), (5, None, None, 5)],
    )
    rec.check(
        "named WINDOW w AS (...)",
        lambda: q(
            f"select k, lag(k) over w from {DS}.w window w as (partition by g order by k) order by k"
        ),
        [(1, None), (2, 1), (5, None)],
    )
    rec.check(
        "FROM UNNEST([STRUCT('a' AS g, 1 AS k), STRUCT('b' AS g, 2 AS k)]) columns g, k",
        lambda: q(
            "select g, k from unnest([struct('a' as g, 1 as k), struct('b' as g, 2 as k)]) order by k"
        ),
        [("a", 1), ("b", 2)],
    )
    rec.check(
        "FROM UNNEST([STRUCT('a' AS g, 1 AS k), ('b', 2)]) (tuple for later elements)",
        lambda: q("select g, k from unnest([struct('a' as g, 1 as k), ('b', 2)]) order by k"),
        [("a", 1), ("b", 2)],
    )
    q(f"create or replace table {DS}.kw (`check` INT64, `show` INT64, `unique` INT64)")
    rec.check(
        "unquoted column names `check`, `show` (DuckDB keywords, not reserved in BigQuery)",
        lambda: q(f"select check, show, unique from {DS}.kw"),
        [],
    )
    rec.check(
        "the same columns back-quoted",
        lambda: q(f"select `check`, `show`, `unique` from {DS}.kw"),
        [],
    )
    rec.check(
        "QUALIFY ROW_NUMBER() OVER (...) = 1",
        lambda: q(f"""select g, k from {DS}.w
                 qualify row_number() over (partition by g order by k desc) = 1 order by g"""),
        [("a", 2), ("b", 5)],
    )
    rec.check(
        "ANY_VALUE",
        lambda: q(f"select g, any_value(k) in (1, 2) from {DS}.w where g = 'a' group by g"),
        [("a", True)],
    )
    rec.check(
        "ARRAY_AGG(STRUCT ... ORDER BY ... LIMIT 1)[OFFSET(0)]",
        lambda: q("""select array_agg(struct(k as k) order by k desc limit 1)[offset(0)].k
                 from unnest([1,3,2]) k"""),
        [(3,)],
    )
    rec.check(
        "query parameters @session_id (ScalarQueryParameter)",
        lambda: q(
            f"select count(*) from {DS}.hist where session_id = @session_id",
            [bigquery.ScalarQueryParameter("session_id", "STRING", "s1")],
        ),
        [(2,)],
    )
    rec.check(
        "ArrayQueryParameter IN UNNEST(@ids)",
        lambda: q(
            f"select count(*) from {DS}.hist where k in unnest(@ids)",
            [bigquery.ArrayQueryParameter("ids", "INT64", [1, 3])],
        ),
        [(2,)],
    )

    # ---- types
    q(f"""create or replace table {DS}.types (n NUMERIC, bn BIGNUMERIC, f FLOAT64, ts TIMESTAMP,
          d DATE, j JSON, dt DATETIME, b BYTES)""")
    rec.check(
        "schema of NUMERIC/BIGNUMERIC/FLOAT64/TIMESTAMP/DATE/JSON/DATETIME/BYTES table (tables.get)",
        lambda: [(f.name, f.field_type) for f in bq.get_table(f"{DS}.types").schema],
        [
            ("n", "NUMERIC"),
            ("bn", "BIGNUMERIC"),
            ("f", "FLOAT"),
            ("ts", "TIMESTAMP"),
            ("d", "DATE"),
            ("j", "JSON"),
            ("dt", "DATETIME"),
            ("b", "BYTES"),
        ],
    )
    rec.check(
        "INSERT NUMERIC(29.9)/BIGNUMERIC(38.38)/FLOAT64 NaN,Inf,-Inf,-0.0/TIMESTAMP/DATE/JSON/BYTES",
        lambda: q(f"""insert into {DS}.types values
                 (numeric '12345678901234567890123456789.123456789',
                  bignumeric '12345678901234567890123456789012345678.12345678901234567890123456789012345678',
                  cast('nan' as float64), timestamp '2024-01-02 03:04:05.123456 UTC', date '2024-01-02',
                  json '{{"a": 1, "b": [true, null]}}', datetime '2024-01-02 03:04:05.123456', from_base64('AQI=')),
                 (1.5, 2.5, cast('inf' as float64), null, null, null, null, null),
                 (0, 0, cast('-inf' as float64), null, null, null, null, null),
                 (0, 0, -0.0, null, null, null, null, null)"""),
    )
    rec.check(
        "INSERT same row with NUMERIC 1.123456789 / BIGNUMERIC 1.5 (small values)",
        lambda: q(f"""insert into {DS}.types values
                 (1.123456789, 1.5, cast('nan' as float64), timestamp '2024-01-02 03:04:05.123456 UTC', date '2024-01-02',
                  json '{{"a": 1, "b": [true, null]}}', datetime '2024-01-02 03:04:05.123456', from_base64('AQI=')),
                 (1.5, 2.5, cast('inf' as float64), null, null, null, null, null),
                 (0, 0, cast('-inf' as float64), null, null, null, null, null),
                 (0, 0, -0.0, null, null, null, null, null)"""),
    )
    rec.check(
        "NUMERIC column stores 1.123456789 exactly (BigQuery: NUMERIC has 9 decimals)",
        lambda: q(f"select cast(n as string) from {DS}.types where d is not null"),
        [("1.123456789",)],
    )
    rec.check(
        "read back row 1 (python values)",
        lambda: [
            tuple(r.values())
            for r in bq.query(f"select * from {DS}.types where d is not null").result()
        ],
    )
    rec.check(
        "NUMERIC column via CTAS from a NUMERIC literal keeps 9 decimals + tables.get type",
        lambda: (
            q(
                f"create or replace table {DS}.n2 as select numeric '12345678901234567890.123456789' n"
            ),
            q(f"select cast(n as string) from {DS}.n2"),
            [(f.name, f.field_type) for f in bq.get_table(f"{DS}.n2").schema],
        )[1:],
    )
    rec.check(
        "NUMERIC query parameter into NUMERIC column",
        lambda: (
            q(f"create or replace table {DS}.n3 (n NUMERIC)"),
            q(
                f"insert into {DS}.n3 values (@v)",
                [
                    bigquery.ScalarQueryParameter(
                        "v", "NUMERIC", __import__("decimal").Decimal("1.123456789")
                    )
                ],
            ),
            q(f"select cast(n as string) from {DS}.n3"),
        )[2],
        [("1.123456789",)],
    )
    rec.check(
        "CAST('1.123456789' AS NUMERIC) keeps 9 decimals",
        lambda: q("select cast(cast('1.123456789' as numeric) as string)"),
        [("1.123456789",)],
    )
    rec.check(
        "CAST(x AS NUMERIC) with 20 integer digits",
        lambda: q("select cast(cast('12345678901234567890' as numeric) as string)"),
        [("12345678901234567890",)],
    )
    rec.check(
        "NUMERIC arithmetic 1/3 (BigQuery: 0.333333333)",
        lambda: q("select cast(numeric '1' / numeric '3' as string)"),
        [("0.333333333",)],
    )
    rec.check(
        "NUMERIC overflow CAST('1e30' AS NUMERIC) (BigQuery: error)",
        lambda: q("select cast('1e30' as numeric)"),
    )
    rec.check(
        "NaN = NaN (GoogleSQL: FALSE); NaN IS NOT DISTINCT FROM NaN",
        lambda: q(
            "select cast('nan' as float64) = cast('nan' as float64), "
            "cast('nan' as float64) is not distinct from cast('nan' as float64)"
        ),
    )
    rec.check(
        "NaN > 1e308 (GoogleSQL: FALSE)",
        lambda: q("select cast('nan' as float64) > 1e308"),
        [(False,)],
    )
    rec.check("-0.0 = 0.0 (TRUE)", lambda: q("select -0.0 = 0.0"), [(True,)])
    rec.check(
        "CAST(FLOAT64 AS STRING): 1.0, -0.0, 1e20, 0.1, NaN, -inf (BigQuery: '1','-0','1e+20','0.1','nan','-inf')",
        lambda: q(
            "select cast(1.0 as string), cast(-0.0 as string), cast(1e20 as string), cast(0.1 as string), "
            "cast(cast('nan' as float64) as string), cast(cast('-inf' as float64) as string)"
        ),
        [("1", "-0", "1e+20", "0.1", "nan", "-inf")],
    )
    rec.check(
        "FLOAT64 special values roundtrip to client",
        lambda: sorted(repr(r[0]) for r in bq.query(f"select f from {DS}.types").result()),
        sorted(["nan", "inf", "-inf", "-0.0"]),
    )
    rec.check(
        "ORDER BY FLOAT64 (GoogleSQL: NULL, NaN, -inf, ..., +inf)",
        lambda: [
            repr(r[0])
            for r in bq.query(
                "select x from unnest([1.0, cast('nan' as float64), cast('-inf' as float64), null]) x order by x"
            ).result()
        ],
        ["None", "nan", "-inf", "1.0"],
    )
    rec.check(
        "GROUP BY FLOAT64 groups NaNs together and -0.0 with 0.0",
        lambda: q(
            "select count(distinct x) from unnest([cast('nan' as float64), cast('nan' as float64), 0.0, -0.0]) x"
        ),
        [(2,)],
    )
    rec.check(
        "TIMESTAMP microseconds roundtrip",
        lambda: q(
            f"select format_timestamp('%FT%H:%M:%E6SZ', ts), unix_micros(ts) from {DS}.types where ts is not null"
        ),
        [("2024-01-02T03:04:05.123456Z", 1704164645123456)],
    )
    rec.check(
        "CAST(TIMESTAMP AS STRING) (BigQuery: '2024-01-02 03:04:05.123456+00')",
        lambda: q(f"select cast(ts as string) from {DS}.types where ts is not null"),
        [("2024-01-02 03:04:05.123456+00",)],
    )
    rec.check(
        "JSON column: JSON_VALUE / TO_JSON_STRING(json)",
        lambda: q(
            f"select json_value(j, '$.a'), to_json_string(j) from {DS}.types where j is not null"
        ),
        [("1", '{"a":1,"b":[true,null]}')],
    )
    rec.check(
        "BYTES literal b'\\x00\\xff'", lambda: q("select to_base64(b'\\x00\\xff')"), [("AP8=",)]
    )
    rec.check(
        "BYTES literal b'\\x01\\xff'", lambda: q("select to_base64(b'\\x01\\xff')"), [("Af8=",)]
    )
    rec.check(
        "BYTES via FROM_BASE64 round-trip",
        lambda: q("select to_base64(from_base64('AP8='))"),
        [("AP8=",)],
    )
    rec.check(
        "IS NOT DISTINCT FROM (NULLs)",
        lambda: q("select cast(null as int64) is not distinct from null, 1 is distinct from null"),
        [(True, True)],
    )
    rec.check(
        "SAFE_CAST / SAFE_DIVIDE",
        lambda: q("select safe_cast('x' as int64), safe_divide(1, 0)"),
        [(None, None)],
    )
    rec.check("1/0 (BigQuery: error 'division by zero: 1 / 0')", lambda: q("select 1/0"))

    # ---- DML
    rec.check(
        "INSERT ... SELECT ... WHERE NOT EXISTS (subquery on target)",
        lambda: after(
            f"""insert into {DS}.tgt (id, v)
                 select id, v from {DS}.src s where not exists (select 1 from {DS}.tgt t where t.id = s.id)""",
            check=f"select id from {DS}.tgt order by id",
        ),
        [(1,), (2,), (3,), (4,), (5,)],
    )
    rec.check(
        "DELETE with subquery (IN / correlated EXISTS)",
        lambda: after(
            f"delete from {DS}.tgt where id in (select id from {DS}.src where op = 'D')",
            f"delete from {DS}.tgt t where exists (select 1 from {DS}.src s where s.id = t.id and s.op = 'U')",
            check=f"select id from {DS}.tgt order by id",
        ),
        [(3,)],
    )
    rec.check(
        "UPDATE ... FROM other table",
        lambda: after(
            f"update {DS}.tgt t set v = s.v from {DS}.src s where s.id = t.id",
            check=f"select id, v from {DS}.tgt order by id",
        ),
        [(1, "a2"), (2, "b2"), (3, "c")],
    )
    rec.check(
        "TRUNCATE TABLE",
        lambda: after(f"truncate table {DS}.tgt", check=f"select count(*) from {DS}.tgt"),
        [(0,)],
    )
    rec.check(
        "ALTER TABLE ADD COLUMN -> column usable in SQL",
        lambda: after(
            f"alter table {DS}.tgt add column extra INT64",
            f"update {DS}.tgt set extra = 7 where id = 1",
            check=f"select id, extra from {DS}.tgt where id = 1",
        ),
        [(1, 7)],
    )
    rec.check(
        "ALTER TABLE ADD COLUMN -> visible in tables.get schema",
        lambda: (
            fresh(),
            q(f"alter table {DS}.tgt add column extra INT64"),
            [f.name for f in bq.get_table(f"{DS}.tgt").schema],
        )[2],
        ["id", "v", "flag", "extra"],
    )
    rec.check(
        "ALTER TABLE ADD COLUMN -> visible in INFORMATION_SCHEMA.COLUMNS",
        lambda: (
            fresh(),
            q(f"alter table {DS}.tgt add column extra INT64"),
            q(f"select count(*) from {DS}.INFORMATION_SCHEMA.COLUMNS where table_name = 'tgt'"),
        )[2],
        [(4,)],
    )
    rec.check(
        "client.update_table(schema + new NULLABLE field) (what dbt on_schema_change uses)",
        lambda: (
            fresh(),
            _add_field(bq, bigquery, f"{P}.{DS}.tgt", "added"),
            [f.name for f in bq.get_table(f"{DS}.tgt").schema],
            q(f"select count(added) from {DS}.tgt"),
        )[2:],
        (["id", "v", "flag", "added"], [(0,)]),
    )
    rec.check(
        "ALTER TABLE ADD COLUMN IF NOT EXISTS (existing column)",
        lambda: after(
            f"alter table {DS}.tgt add column if not exists v STRING",
            check=f"select count(*) from {DS}.tgt",
        ),
        [(3,)],
    )
    rec.check(
        "ALTER TABLE SET OPTIONS(description=...) -> tables.get description",
        lambda: (
            fresh(),
            q(f"alter table {DS}.tgt set options(description='hello')"),
            bq.get_table(f"{DS}.tgt").description,
        )[2],
        "hello",
    )
    rec.check(
        "ALTER TABLE RENAME TO",
        lambda: after(
            f"create or replace table {DS}.ren as select 1 x",
            f"drop table if exists {DS}.ren2",
            f"alter table {DS}.ren rename to ren2",
            check=f"select x from {DS}.ren2",
        ),
        [(1,)],
    )
    rec.check(
        "INFORMATION_SCHEMA.COLUMNS (types as BigQuery names)",
        lambda: q(f"""select column_name, data_type from {DS}.INFORMATION_SCHEMA.COLUMNS
                 where table_name = 'types' order by ordinal_position"""),
        [
            ("n", "NUMERIC"),
            ("bn", "BIGNUMERIC"),
            ("f", "FLOAT64"),
            ("ts", "TIMESTAMP"),
            ("d", "DATE"),
            ("j", "JSON"),
            ("dt", "DATETIME"),
            ("b", "BYTES"),
        ],
    )
    rec.check(
        "`project`.ds.INFORMATION_SCHEMA.COLUMNS (project-qualified)",
        lambda: q(
            f"""select count(*) from `{P}`.{DS}.INFORMATION_SCHEMA.COLUMNS where table_name = 'tgt'"""
        ),
    )
    rec.check(
        "region-us.INFORMATION_SCHEMA.COLUMNS",
        lambda: q("select count(*) from `region-us`.INFORMATION_SCHEMA.COLUMNS"),
    )
    rec.check(
        "INFORMATION_SCHEMA.TABLES",
        lambda: q(f"select count(*) from {DS}.INFORMATION_SCHEMA.TABLES"),
    )
    rec.check(
        "INFORMATION_SCHEMA.PARTITIONS",
        lambda: q(f"select count(*) from {DS}.INFORMATION_SCHEMA.PARTITIONS"),
    )
    rec.check("__TABLES__", lambda: q(f"select count(*) from {DS}.__TABLES__"))

    # ---- partitioning / clustering / options
    def meta(t):
        t = bq.get_table(t)
        tp = t.time_partitioning
        return (tp and tp.field, tp and tp.type_, t.clustering_fields, t.require_partition_filter)

    rec.check(
        "DDL PARTITION BY date_col CLUSTER BY k -> tables.get",
        lambda: (
            q(f"""create or replace table {DS}.part (closed_date DATE, k STRING, v INT64)
                 partition by closed_date cluster by k"""),
            meta(f"{DS}.part"),
        )[1],
        ("closed_date", "DAY", ["k"], None),
    )
    rec.check(
        "DDL PARTITION BY DATE(ts) -> tables.get",
        lambda: (
            q(f"create or replace table {DS}.part2 (ts TIMESTAMP) partition by date(ts)"),
            meta(f"{DS}.part2"),
        )[1],
        ("ts", "DAY", None, None),
    )
    rec.check(
        "DDL CTAS PARTITION BY closed_date CLUSTER BY k AS SELECT -> tables.get",
        lambda: (
            q(f"""create or replace table {DS}.part5 partition by closed_date cluster by k as
                 select date '2024-01-01' closed_date, 'x' k"""),
            meta(f"{DS}.part5"),
        )[1],
        ("closed_date", "DAY", ["k"], None),
    )
    rec.check(
        "client.create_table(TimePartitioning(field=), clustering_fields) -> tables.get",
        lambda: (
            bq.create_table(_tbl(bigquery, f"{P}.{DS}.part3"), exists_ok=True),
            meta(f"{DS}.part3"),
        )[1],
        ("closed_date", "DAY", ["k"], None),
    )
    rec.check(
        "OPTIONS(require_partition_filter=true): query without filter (BigQuery: error)",
        lambda: (
            q(
                f"create or replace table {DS}.part4 (closed_date DATE) partition by closed_date "
                "options(require_partition_filter=true)"
            ),
            q(f"select count(*) from {DS}.part4"),
            meta(f"{DS}.part4"),
        )[1:],
    )
    rec.check(
        "OPTIONS(partition_expiration_days=...) accepted",
        ex(
            f"create or replace table {DS}.part6 (d DATE) partition by d options(partition_expiration_days=3650)"
        ),
    )
    rec.check(
        "INFORMATION_SCHEMA.PARTITIONS per-partition rows",
        lambda: (
            q(
                f"insert into {DS}.part (closed_date, k, v) values ('2024-01-01','a',1),('2024-01-02','b',2)"
            ),
            q(
                f"select partition_id, total_rows from {DS}.INFORMATION_SCHEMA.PARTITIONS "
                "where table_name = 'part' order by 1"
            ),
        )[1],
    )
    rec.check(
        "DELETE ... WHERE partition_col = ... on partitioned table",
        lambda: (
            q(f"delete from {DS}.part where closed_date = '2024-01-01'"),
            q(f"select count(*) from {DS}.part"),
        )[1],
        [(1,)],
    )
    rec.check(
        "CREATE TABLE COPY",
        lambda: after(
            f"create or replace table {DS}.tgt_copy copy {DS}.tgt",
            check=f"select count(*) from {DS}.tgt_copy",
        ),
        [(3,)],
    )
    rec.check(
        "client.copy_table",
        lambda: (
            fresh(),
            bq.copy_table(f"{P}.{DS}.tgt", f"{P}.{DS}.tgt_copy2").result(),
            q(f"select count(*) from {DS}.tgt_copy2"),
        )[2],
        [(3,)],
    )
    rec.check(
        "CREATE TABLE CLONE",
        lambda: after(
            f"create or replace table {DS}.tgt_clone clone {DS}.tgt",
            check=f"select count(*) from {DS}.tgt_clone",
        ),
        [(3,)],
    )
    rec.check(
        "CREATE SNAPSHOT TABLE ... CLONE",
        lambda: after(
            f"drop snapshot table if exists {DS}.tgt_snap",
            f"create snapshot table {DS}.tgt_snap clone {DS}.tgt",
            check=f"select count(*) from {DS}.tgt_snap",
        ),
        [(3,)],
    )
    rec.check(
        "FOR SYSTEM_TIME AS OF (unqualified ds.t)",
        ex(f"select count(*) from {DS}.tgt for system_time as of current_timestamp()"),
    )
    rec.check(
        "FOR SYSTEM_TIME AS OF (`project.ds.t`)",
        ex(f"select count(*) from `{P}.{DS}.tgt` for system_time as of current_timestamp()"),
    )
    rec.check(
        "FOR SYSTEM_TIME AS OF before a DELETE returns old rows",
        lambda: (
            fresh(),
            __import__("time").sleep(1.1),
            q(f"delete from {DS}.tgt where id = 1"),
            q(
                f"select count(*) from `{P}.{DS}.tgt` for system_time as of "
                "timestamp_sub(current_timestamp(), interval 1 second)"
            ),
        )[3],
        [(3,)],
    )
    rec.check("DROP TABLE FUNCTION", ex(f"drop table function if exists {DS}.at_session"))
    rec.check(
        "multi-statement: two DROP TABLE IF EXISTS",
        ex(f"drop table if exists {DS}.tgt_copy; drop table if exists {DS}.tgt_clone;"),
    )

    # ---- EXPORT DATA / external tables / LOAD DATA
    gcs_root = Path(env["BQEMU_GCS_LOCAL_ROOT"])

    def files(prefix):
        base = gcs_root / prefix
        return (
            sorted(str(p.relative_to(gcs_root)) for p in base.rglob("*") if p.is_file())
            if base.exists()
            else []
        )

    rec.check(
        "EXPORT DATA OPTIONS(uri='gs://b/prefix/*.parquet', format='PARQUET') -> files under BQEMU_GCS_LOCAL_ROOT",
        lambda: (
            q(f"""export data options(uri='gs://exp-bucket/hist/s1/*.parquet', format='PARQUET',
                   overwrite=true) as select * from {DS}.hist"""),
            files("exp-bucket/hist/s1"),
        )[1],
        ["exp-bucket/hist/s1/000000000000.parquet"],
    )
    rec.check(
        "EXPORT DATA: exported parquet readable, schema",
        lambda: (lambda t: (t.num_rows, t.schema.to_string().replace("\n", "; ")[:200]))(
            __import__("pyarrow.parquet").parquet.read_table(
                gcs_root / "exp-bucket/hist/s1/000000000000.parquet"
            )
        ),
    )
    rec.check(
        "EXPORT DATA ... compression='ZSTD' (codec in file)",
        lambda: (
            q(f"""export data options(uri='gs://exp-bucket/hist/z/*.parquet', format='PARQUET',
                   compression='ZSTD') as select * from {DS}.hist"""),
            __import__("pyarrow.parquet")
            .parquet.ParquetFile(gcs_root / "exp-bucket/hist/z/000000000000.parquet")
            .metadata.row_group(0)
            .column(0)
            .compression,
        )[1],
        "ZSTD",
    )
    rec.check(
        "EXPORT DATA twice to same prefix without overwrite (BigQuery: error if files exist? no: overwrites)",
        ex(f"""export data options(uri='gs://exp-bucket/hist/s1/*.parquet', format='PARQUET')
                   as select * from {DS}.hist"""),
    )
    rec.check(
        "EXPORT DATA: object visible in fake-gcs-server? (list_blobs)",
        lambda: (
            [b.name for b in env["_gcs"].list_blobs("exp-bucket")]
            if _bucket_exists(env["_gcs"], "exp-bucket")
            else "no: bucket exp-bucket does not exist in fake-gcs-server"
        ),
    )
    rec.check(
        "EXPORT DATA format=CSV / JSON",
        lambda: (
            q(f"""export data options(uri='gs://exp-bucket/csv/*.csv', format='CSV', header=true)
                   as select * from {DS}.hist;
                   export data options(uri='gs://exp-bucket/json/*.json', format='JSON')
                   as select * from {DS}.hist"""),
            files("exp-bucket/csv") + files("exp-bucket/json"),
        )[1],
    )
    rec.check(
        "EXPORT DATA uri without * (BigQuery: accepted only for single-file exports)",
        lambda: (
            q(f"""export data options(uri='gs://exp-bucket/nowild/x.parquet', format='PARQUET')
                   as select * from {DS}.hist"""),
            files("exp-bucket/nowild"),
        )[1],
    )
    rec.check(
        "EXPORT DATA with @param in inner SELECT",
        lambda: (
            q(
                f"""export data options(uri='gs://exp-bucket/param/*.parquet', format='PARQUET', overwrite=true)
                   as select * from {DS}.hist where session_id = @sid""",
                [bigquery.ScalarQueryParameter("sid", "STRING", "s1")],
            ),
            files("exp-bucket/param"),
        )[1],
    )
    rec.check(
        "EXPORT DATA inside a multi-statement script (with DECLARE)",
        ex(f"""DECLARE sid STRING DEFAULT 's1';
                   EXPORT DATA OPTIONS(uri='gs://exp-bucket/script/*.parquet', format='PARQUET', overwrite=true)
                   AS SELECT * FROM {DS}.hist WHERE session_id = sid;"""),
    )
    ext_sql = f"""external table {DS}.ext options(format='PARQUET', uris=['gs://exp-bucket/hist/s1/*.parquet'])"""
    rec.check(
        "CREATE OR REPLACE EXTERNAL TABLE ... OPTIONS(format='PARQUET', uris=[gs://...])",
        lambda: (q(f"create or replace {ext_sql}"), q(f"select count(*), sum(k) from {DS}.ext"))[1],
        [(3, 6)],
    )
    rec.check(
        "CREATE EXTERNAL TABLE (no OR REPLACE) over gs:// parquet",
        lambda: (
            q(f"drop table if exists {DS}.ext"),
            q(f"create {ext_sql}"),
            q(f"select count(*), sum(k) from {DS}.ext"),
        )[2],
        [(3, 6)],
    )
    rec.check(
        "CREATE EXTERNAL TABLE IF NOT EXISTS",
        lambda: (
            q(
                f"create external table if not exists {DS}.ext options(format='PARQUET', "
                "uris=['gs://exp-bucket/hist/s1/*.parquet'])"
            ),
            "ok",
        )[1],
    )
    rec.check(
        "external table: tables.get type / source_uris",
        lambda: (
            lambda t: (
                t.table_type,
                t.external_data_configuration and list(t.external_data_configuration.source_uris),
            )
        )(bq.get_table(f"{DS}.ext")),
    )
    rec.check(
        "external table sees files added later (re-reads at query time?)",
        lambda: (
            _write_local_parquet(gcs_root / "exp-bucket/hist/s1/extra.parquet"),
            q(f"select count(*) from {DS}.ext"),
        )[1],
        [(6,)],
    )
    rec.check(
        "client.create_table(ExternalConfig PARQUET, gs:// uris)",
        lambda: (
            bq.create_table(
                _ext_tbl(bigquery, f"{P}.{DS}.ext_api", "gs://exp-bucket/hist/s1/*.parquet"),
                exists_ok=True,
            ),
            q(f"select count(*) from {DS}.ext_api"),
        )[1],
        [(6,)],
    )
    rec.check(
        "external table over a file that exists ONLY in fake-gcs-server",
        lambda: (
            _upload_parquet(env["_gcs"], "only-fake", "data/x.parquet"),
            bq.create_table(
                _ext_tbl(bigquery, f"{P}.{DS}.ext_fake", "gs://only-fake/data/*.parquet"),
                exists_ok=True,
            ),
            q(f"select count(*) from {DS}.ext_fake"),
        )[2],
    )
    rec.check(
        "external table with hive partitioning (WITH PARTITION COLUMNS)",
        lambda: (
            _write_local_parquet(
                gcs_root / "hive-bucket" / "t" / "session_id=s9" / "f.parquet", drop_sid=True
            ),
            q(f"""create or replace external table {DS}.ext_hive
                          with partition columns (session_id STRING)
                          options(format='PARQUET', uris=['gs://hive-bucket/t/*'],
                          hive_partition_uri_prefix='gs://hive-bucket/t')"""),
            q(f"select session_id, count(*) from {DS}.ext_hive group by 1"),
        )[2],
        [("s9", 3)],
    )
    rec.check(
        "LOAD DATA INTO ds.t FROM FILES(format='PARQUET', uris=[gs://...])",
        lambda: (
            q(f"""load data into {DS}.loaded from files(format='PARQUET',
                          uris=['gs://exp-bucket/hist/s1/000000000000.parquet'])"""),
            q(f"select count(*) from {DS}.loaded"),
        )[1],
        [(3,)],
    )
    rec.check(
        "LOAD DATA OVERWRITE ds.t FROM FILES(...)",
        lambda: (
            q(f"""load data overwrite {DS}.loaded from files(format='PARQUET',
                          uris=['gs://exp-bucket/hist/s1/000000000000.parquet'])"""),
            q(f"select count(*) from {DS}.loaded"),
        )[1],
        [(3,)],
    )
    rec.check(
        "client.load_table_from_uri(gs:// parquet) into a NEW table (BigQuery: creates it)",
        lambda: (
            bq.load_table_from_uri(
                "gs://exp-bucket/hist/s1/000000000000.parquet",
                f"{P}.{DS}.loaded2",
                job_config=bigquery.LoadJobConfig(source_format="PARQUET"),
            ).result(timeout=60),
            q(f"select count(*) from {DS}.loaded2"),
        )[1],
        [(3,)],
    )
    rec.check(
        "client.load_table_from_uri(gs:// parquet, wildcard) into an EXISTING table, WRITE_APPEND",
        lambda: (
            q(f"create or replace table {DS}.loaded4 (session_id STRING, k INT64)"),
            bq.load_table_from_uri(
                "gs://exp-bucket/hist/s1/*.parquet",
                f"{P}.{DS}.loaded4",
                job_config=bigquery.LoadJobConfig(
                    source_format="PARQUET", write_disposition="WRITE_APPEND"
                ),
            ).result(timeout=60),
            q(f"select count(*) from {DS}.loaded4"),
        )[2],
        [(6,)],
    )
    rec.check(
        "client.load_table_from_file(local parquet) into an EXISTING table",
        lambda: (
            q(f"create or replace table {DS}.loaded3 (session_id STRING, k INT64)"),
            bq.load_table_from_file(
                io.BytesIO(_parquet_bytes()),
                f"{P}.{DS}.loaded3",
                job_config=bigquery.LoadJobConfig(source_format="PARQUET"),
            ).result(timeout=60),
            q(f"select count(*) from {DS}.loaded3"),
        )[2],
        [(3,)],
    )
    rec.check(
        "client.extract_table to gs://.../*.parquet (extract job, wildcard)",
        lambda: (
            bq.extract_table(
                f"{P}.{DS}.hist",
                "gs://exp-bucket/extract/*.parquet",
                retry=None,
                job_config=bigquery.ExtractJobConfig(destination_format="PARQUET"),
            ).result(timeout=30, retry=None),
            files("exp-bucket/extract"),
        )[1],
    )
    rec.check(
        "client.extract_table to gs://.../one.parquet (no wildcard)",
        lambda: (
            bq.extract_table(
                f"{P}.{DS}.hist",
                "gs://exp-bucket/extract1/one.parquet",
                retry=None,
                job_config=bigquery.ExtractJobConfig(destination_format="PARQUET"),
            ).result(timeout=30, retry=None),
            files("exp-bucket/extract1"),
        )[1],
    )
    rec.check(
        "client.insert_rows_json (streaming)",
        lambda: (
            bq.insert_rows_json(f"{P}.{DS}.hist", [{"session_id": "s3", "k": 7}]),
            q(f"select count(*) from {DS}.hist where session_id = 's3'"),
        )[1],
        [(1,)],
    )
    rec.check(
        "query(...).to_arrow() (default: tries BigQuery Storage API)",
        lambda: bq.query(f"select * from {DS}.hist").to_arrow().num_rows,
    )
    rec.check(
        "query(...).to_arrow(create_bqstorage_client=False)",
        lambda: (
            bq.query(f"select * from {DS}.hist").to_arrow(create_bqstorage_client=False).num_rows
        ),
    )
    rec.check(
        "client.list_rows(table) (tabledata.list)",
        lambda: len(list(bq.list_rows(f"{P}.{DS}.hist"))),
    )
    rec.check(
        "dry_run query (total_bytes_processed)",
        lambda: (
            bq.query(
                f"select * from {DS}.hist", job_config=bigquery.QueryJobConfig(dry_run=True)
            ).total_bytes_processed
        ),
    )
    rec.check(
        "QueryJobConfig(destination=..., WRITE_APPEND)",
        lambda: (
            bq.query(
                "select 's4' session_id, 1 k",
                job_config=bigquery.QueryJobConfig(
                    destination=f"{P}.{DS}.hist", write_disposition="WRITE_APPEND"
                ),
            ).result(),
            q(f"select count(*) from {DS}.hist where session_id = 's4'"),
        )[1],
        [(1,)],
    )
    rec.check(
        "job labels round-trip (QueryJobConfig(labels=...))",
        lambda: (
            bq.get_job(
                bq.query(
                    "select 1", job_config=bigquery.QueryJobConfig(labels={"session_id": "s1"})
                ).job_id
            ).labels
        ),
        {"session_id": "s1"},
    )


def _add_field(bq, bigquery, ref, name):
    t = bq.get_table(ref)
    t.schema = list(t.schema) + [bigquery.SchemaField(name, "STRING")]
    bq.update_table(t, ["schema"])


def _ext_tbl(bigquery, ref, uri):
    t = bigquery.Table(ref)
    cfg = bigquery.ExternalConfig("PARQUET")
    cfg.source_uris = [uri]
    t.external_data_configuration = cfg
    return t


def _tbl(bigquery, ref):
    t = bigquery.Table(
        ref,
        schema=[bigquery.SchemaField("closed_date", "DATE"), bigquery.SchemaField("k", "STRING")],
    )
    t.time_partitioning = bigquery.TimePartitioning(field="closed_date")
    t.clustering_fields = ["k"]
    return t


def _job_err_then(fn, after):
    try:
        fn()
        first = "no error"
    except Exception as exc:  # noqa: BLE001
        first = "error"
        print("      error text:", " ".join(str(getattr(exc, "message", exc)).split())[:300])
    return (first, after())


def _parquet_bytes():
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"session_id": ["a", "b", "c"], "k": [1, 2, 3]}), buf)
    return buf.getvalue()


def _write_local_parquet(path: Path, drop_sid=False):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    t = pa.table({"session_id": ["a", "b", "c"], "k": [1, 2, 3]})
    pq.write_table(t.drop(["session_id"]) if drop_sid else t, path)


def _bucket_exists(gcs, name):
    return gcs.lookup_bucket(name) is not None


def _upload_parquet(gcs, bucket, name):
    b = gcs.lookup_bucket(bucket) or gcs.create_bucket(bucket)
    b.blob(name).upload_from_string(_parquet_bytes())


def run_gcs(gcs, rec: Recorder):
    from google.api_core import exceptions as gexc

    bucket = rec.check(
        "GCS create_bucket", lambda: gcs.create_bucket("probe-bucket").name, "probe-bucket"
    )
    b = gcs.bucket("probe-bucket")
    rec.check(
        "GCS upload if_generation_match=0 (1st)",
        lambda: (b.blob("a/1.txt").upload_from_string(b"hello", if_generation_match=0), "ok")[1],
    )

    def second():
        try:
            b.blob("a/1.txt").upload_from_string(b"again", if_generation_match=0)
        except gexc.PreconditionFailed as exc:
            return f"412 PreconditionFailed: {exc.message[:120]}"
        return "no error (precondition ignored)"

    rec.check("GCS upload if_generation_match=0 (2nd must be 412)", second)
    rec.check(
        "GCS upload if_generation_match=0 with resumable upload (>8 MiB, chunked) 2nd time",
        lambda: _resumable_twice(b, gexc),
    )
    for i in range(3):
        b.blob(f"a/sub/{i}.txt").upload_from_string(b"x")
    b.blob("b/other.txt").upload_from_string(b"y")
    rec.check(
        "GCS list_blobs(prefix='a/')",
        lambda: sorted(x.name for x in gcs.list_blobs("probe-bucket", prefix="a/")),
        ["a/1.txt", "a/sub/0.txt", "a/sub/1.txt", "a/sub/2.txt"],
    )
    rec.check(
        "GCS list_blobs(prefix, delimiter='/') prefixes",
        lambda: (lambda it: (sorted(x.name for x in it), sorted(it.prefixes)))(
            _consume(gcs.list_blobs("probe-bucket", prefix="a/", delimiter="/"))
        ),
        (["a/1.txt"], ["a/sub/"]),
    )
    rec.check(
        "GCS pagination (page_size=2) lists every object once",
        lambda: (lambda names: (len(names), len(set(names))))(
            [x.name for x in gcs.list_blobs("probe-bucket", page_size=2)]
        ),
        (6, 6),
    )
    rec.check("GCS download_as_bytes", lambda: b.blob("a/1.txt").download_as_bytes(), b"hello")
    rec.check(
        "GCS md5_hash / crc32c match local computation",
        lambda: (
            lambda bl: (
                bl.md5_hash
                == base64.b64encode(__import__("hashlib").md5(b"hello").digest()).decode(),
                bl.crc32c == _crc32c_b64(b"hello"),
                bl.size,
            )
        )(b.get_blob("a/1.txt")),
        (True, True, 5),
    )
    rec.check(
        "GCS download with checksum validation (checksum='crc32c')",
        lambda: b.blob("a/1.txt").download_as_bytes(checksum="crc32c"),
        b"hello",
    )
    rec.check(
        "GCS storage_class on upload (blob.storage_class='COLDLINE')",
        lambda: (
            lambda bl: (bl.upload_from_string(b"c"), b.get_blob("c/cold.txt").storage_class)[1]
        )(_with_class(b.blob("c/cold.txt"), "COLDLINE")),
        "COLDLINE",
    )
    rec.check(
        "GCS bucket default storage_class=NEARLINE at create",
        lambda: (lambda nb: (nb.storage_class, gcs.get_bucket("probe-near").storage_class))(
            gcs.create_bucket(_with_class(gcs.bucket("probe-near"), "NEARLINE"))
        ),
        ("NEARLINE", "NEARLINE"),
    )
    rec.check(
        "GCS blob.update_storage_class('ARCHIVE') (rewrite)",
        lambda: (
            b.get_blob("c/cold.txt").update_storage_class("ARCHIVE"),
            b.get_blob("c/cold.txt").storage_class,
        )[1],
        "ARCHIVE",
    )
    rec.check(
        "GCS bucket retention_period set/patch + read back",
        lambda: (
            lambda bk: (
                setattr(bk, "retention_period", 3600),
                bk.patch(),
                gcs.get_bucket("probe-bucket").retention_period,
            )[2]
        )(gcs.get_bucket("probe-bucket")),
        3600,
    )
    rec.check(
        "GCS bucket retention_period at create_bucket",
        lambda: (lambda nb: gcs.get_bucket("probe-ret").retention_period)(
            gcs.create_bucket(_with_attr(gcs.bucket("probe-ret"), "retention_period", 86400))
        ),
        86400,
    )
    rec.check(
        "GCS object retention: blob.temporary_hold / event_based_hold round-trip",
        lambda: (
            lambda bl: (
                setattr(bl, "temporary_hold", True),
                bl.patch(),
                b.get_blob("a/1.txt").temporary_hold,
            )[2]
        )(b.get_blob("a/1.txt")),
        True,
    )
    rec.check(
        "GCS delete object under retention policy (real GCS: 403 retention)",
        lambda: (b.blob("b/other.txt").delete(), "deleted")[1],
    )
    rec.check(
        "GCS lifecycle rule (add_lifecycle_set_storage_class_rule) read back",
        lambda: (
            lambda bk: (
                bk.add_lifecycle_set_storage_class_rule("COLDLINE", age=30),
                bk.patch(),
                list(gcs.get_bucket("probe-bucket").lifecycle_rules),
            )[2]
        )(gcs.get_bucket("probe-bucket")),
    )
    rec.check(
        "GCS custom metadata on blob",
        lambda: (
            lambda bl: (
                setattr(bl, "metadata", {"session_id": "s1"}),
                bl.upload_from_string(b"m"),
                b.get_blob("m/meta.txt").metadata,
            )[2]
        )(b.blob("m/meta.txt")),
        {"session_id": "s1"},
    )
    rec.check(
        "GCS blob.exists / delete / exists",
        lambda: (
            b.blob("m/meta.txt").exists(),
            b.blob("m/meta.txt").delete(),
            b.blob("m/meta.txt").exists(),
        ),
        (True, None, False),
    )
    rec.check(
        "GCS compose",
        lambda: (
            b.blob("comp").compose([b.blob("a/sub/0.txt"), b.blob("a/sub/1.txt")]),
            b.blob("comp").download_as_bytes(),
        )[1],
        b"xx",
    )
    rec.check(
        "GCS copy_blob to another bucket",
        lambda: (
            b.copy_blob(b.blob("a/1.txt"), gcs.bucket("probe-near"), "copied.txt"),
            gcs.bucket("probe-near").blob("copied.txt").download_as_bytes(),
        )[1],
        b"hello",
    )
    return bucket


def _consume(it):
    list_ = list(it)

    class R(list):
        pass

    r = R(list_)
    r.prefixes = it.prefixes
    return r


def _with_attr(obj, name, value):
    setattr(obj, name, value)
    return obj


def _with_class(obj, cls):
    obj.storage_class = cls
    return obj


def _crc32c_b64(data):
    import google_crc32c

    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def _resumable_twice(b, gexc):
    data1, data2 = b"1" * (9 * 1024 * 1024), b"2" * (9 * 1024 * 1024)
    b.blob("big/1.bin", chunk_size=4 * 1024 * 1024).upload_from_string(data1, if_generation_match=0)
    try:
        b.blob("big/1.bin", chunk_size=4 * 1024 * 1024).upload_from_string(
            data2, if_generation_match=0
        )
        outcome = "no error"
    except gexc.PreconditionFailed:
        outcome = "412"
    except Exception as exc:  # noqa: BLE001
        outcome = f"{type(exc).__name__}: {str(exc)[:150]}"
    kept = b.blob("big/1.bin").download_as_bytes()[:1]
    return f"{outcome}; object now holds {'1st' if kept == b'1' else '2nd'} upload"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rec = Recorder()
    with contextlib.ExitStack() as stack:
        if os.environ.get("BQ_EMULATOR_ENDPOINT"):
            env = {
                k: os.environ[k]
                for k in ("BQ_EMULATOR_ENDPOINT", "STORAGE_EMULATOR_HOST", "BQEMU_GCS_LOCAL_ROOT")
            }
        else:
            sd = a.state_dir or stack.enter_context(tempfile.TemporaryDirectory())
            env = stack.enter_context(emulators.running_emulators(sd))
        bq, gcs = make_clients(env)
        env["_gcs"] = gcs
        run_gcs(gcs, rec)
        run_bq(bq, env, rec)
    if a.out:
        rec.dump(a.out)
    bad = [r for r in rec.rows if r["status"] != "ok"]
    print(f"\n{len(rec.rows)} probes, {len(bad)} not ok")


if __name__ == "__main__":
    main()
