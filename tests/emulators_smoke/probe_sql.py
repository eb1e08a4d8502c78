"""Probe bqemulator + fake-gcs-server with the real Google clients.

    .venv/bin/python tests/emulators_smoke/probe_sql.py [--state-dir DIR] [--out results.json]

Starts its own emulators (scripts/emulators.py) unless BQ_EMULATOR_ENDPOINT is set.
Prints one line per feature: ok / DIFF (runs, wrong answer) / ERROR (exact message).
"""
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

    bq = bigquery.Client(project=P, credentials=AnonymousCredentials(),
                         client_options={"api_endpoint": env["BQ_EMULATOR_ENDPOINT"]})
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
    q(f"create or replace table {DS}.tgt (id INT64, v STRING, flag STRING)")
    q(f"insert into {DS}.tgt values (1,'a',null),(2,'b',null),(3,'c',null)")
    q(f"create or replace table {DS}.src (id INT64, v STRING, op STRING)")
    q(f"insert into {DS}.src values (1,'a2','D'),(2,'b2','U'),(4,'d','I'),(5,'e','skip')")

    # ---- MERGE
    rec.check("MERGE: MATCHED AND cond DELETE / MATCHED UPDATE / NOT MATCHED AND cond INSERT ROW",
              lambda: (q(f"""merge {DS}.tgt t using {DS}.src s on t.id = s.id
                 when matched and s.op = 'D' then delete
                 when matched then update set v = s.v, flag = s.op
                 when not matched and s.op = 'I' then insert row"""),
                       q(f"select id, v, flag from {DS}.tgt order by id"))[1],
              [(2, "b2", "U"), (3, "c", None), (4, "d", "I")])
    rec.check("MERGE: NOT MATCHED INSERT (col list) VALUES",
              lambda: (q(f"""merge {DS}.tgt t using {DS}.src s on t.id = s.id
                 when not matched then insert (id, v) values (s.id, concat('n', s.v))"""),
                       q(f"select id, v from {DS}.tgt where id in (1,5) order by id"))[1],
              [(1, "na2"), (5, "ne")])
    rec.check("MERGE: NOT MATCHED BY SOURCE THEN DELETE",
              lambda: (q(f"""merge {DS}.tgt t using (select * from {DS}.src where id <> 5) s
                 on t.id = s.id when not matched by source then delete"""),
                       q(f"select id from {DS}.tgt order by id"))[1],
              [(1,), (2,), (4,)])
    rec.check("MERGE: ON FALSE (insert-all / delete-all idiom)",
              lambda: (q(f"""merge {DS}.tgt t using (select 9 id, 'z' v) s on false
                 when not matched then insert (id, v) values (s.id, s.v)
                 when not matched by source and t.id = 4 then delete"""),
                       q(f"select id from {DS}.tgt order by id"))[1],
              [(1,), (2,), (9,)])
    rec.check("DML job num_dml_affected_rows (UPDATE 2 rows)",
              lambda: bq.query(f"update {DS}.tgt set flag='x' where id in (1,2)").result() is not None and
              bq.get_job(bq.query(f"update {DS}.tgt set flag='x' where id in (1,2)").job_id).num_dml_affected_rows,
              2)

    # ---- transactions / scripting
    q(f"create or replace table {DS}.tx (id INT64)")
    rec.check("script: BEGIN TRANSACTION; INSERT; COMMIT TRANSACTION;",
              lambda: (q(f"BEGIN TRANSACTION; insert into {DS}.tx values (1); COMMIT TRANSACTION;"),
                       q(f"select count(*) from {DS}.tx"))[1], [(1,)])
    rec.check("script: BEGIN TRANSACTION; INSERT; ROLLBACK TRANSACTION; (insert undone?)",
              lambda: (q(f"BEGIN TRANSACTION; insert into {DS}.tx values (2); ROLLBACK TRANSACTION;"),
                       q(f"select count(*) from {DS}.tx"))[1], [(1,)])
    rec.check("script: BEGIN..EXCEPTION WHEN ERROR THEN ROLLBACK TRANSACTION; END (error after insert -> undone?)",
              lambda: (q(f"""BEGIN
                   BEGIN TRANSACTION;
                   insert into {DS}.tx values (3);
                   select error('boom');
                   COMMIT TRANSACTION;
                 EXCEPTION WHEN ERROR THEN
                   ROLLBACK TRANSACTION;
                 END;"""),
                       q(f"select count(*) from {DS}.tx"))[1], [(1,)])
    rec.check("script: error inside transaction without handler -> job error + rows undone?",
              lambda: _job_err_then(lambda: q(f"""BEGIN TRANSACTION;
                   insert into {DS}.tx values (4);
                   select error('boom2');
                   COMMIT TRANSACTION;"""), lambda: q(f"select count(*) from {DS}.tx")),
              ("error", [(1,)]))
    rec.check("script: @@error.message in EXCEPTION handler + RAISE USING MESSAGE",
              lambda: _job_err_then(lambda: q("""BEGIN select error('inner'); EXCEPTION WHEN ERROR THEN
                    RAISE USING MESSAGE = concat('wrapped: ', @@error.message); END;"""),
                                    lambda: None))
    rec.check("script: DECLARE/SET/IF/LOOP + last SELECT returned",
              ex("""DECLARE n INT64 DEFAULT 0; DECLARE s STRING;
                   SET s = 'x'; WHILE n < 3 DO SET n = n + 1; END WHILE;
                   IF n = 3 THEN SELECT n, s; ELSE SELECT -1, s; END IF;"""))
    rec.check("script: CREATE TEMP TABLE used later in script",
              ex(f"""CREATE TEMP TABLE tmp_ids AS SELECT id FROM {DS}.tgt;
                    INSERT INTO tmp_ids VALUES (100);
                    SELECT count(*) FROM tmp_ids;"""))
    rec.check("script: EXECUTE IMMEDIATE with USING",
              ex("DECLARE r INT64; EXECUTE IMMEDIATE 'select ? + 1' INTO r USING 41; SELECT r;"), )

    # ---- table functions
    q(f"create or replace table {DS}.hist (session_id STRING, k INT64)")
    q(f"insert into {DS}.hist values ('s1',1),('s1',2),('s2',3)")
    rec.check("CREATE OR REPLACE TABLE FUNCTION ds.f(session_id STRING) AS (select ...)",
              ex(f"""create or replace table function {DS}.at_session(session_id STRING) as (
                   select k from {DS}.hist h where h.session_id = session_id)"""))
    rec.check("call table function: select * from ds.f('s1')",
              lambda: sorted(q(f"select * from {DS}.at_session('s1')")), [(1,), (2,)])
    rec.check("call table function with @param argument",
              lambda: sorted(q(f"select * from {DS}.at_session(@sid)",
                               [bigquery.ScalarQueryParameter("sid", "STRING", "s2")])), [(3,)])
    rec.check("table function listed by client.list_routines",
              lambda: [(r.routine_id, r.type_) for r in bq.list_routines(DS)])
    rec.check("CREATE TEMP FUNCTION (SQL UDF)",
              lambda: q("create temp function plus1(x INT64) as (x + 1); select plus1(1)"), [(2,)])
    rec.check("CREATE OR REPLACE FUNCTION ds.f (persistent SQL UDF)",
              lambda: (q(f"create or replace function {DS}.plus2(x INT64) returns INT64 as (x + 2)"),
                       q(f"select {DS}.plus2(1)"))[1], [(3,)])

    # ---- hashing & bit ops
    rec.check("FARM_FINGERPRINT('a') (BigQuery: -5528939962900187677? see notes)",
              lambda: q("select farm_fingerprint('a')"))
    rec.check("FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(col AS name)))",
              lambda: q("select to_json_string(struct(1 as a, 'x' as b)), "
                        "farm_fingerprint(to_json_string(struct(1 as a, 'x' as b)))"))
    for label, expr, bq_doc in [
        ("INT64 / STRING / BOOL / NULL", "struct(1 as i, 'x\"y' as s, true as b, cast(null as string) as n)",
         '{"i":1,"s":"x\\"y","b":true,"n":null}'),
        ("FLOAT64 1.5, 1e20, NaN, Inf", "struct(1.5 as f, 1e20 as g, cast('nan' as float64) as n, cast('inf' as float64) as i)",
         '{"f":1.5,"g":1e+20,"n":"NaN","i":"Infinity"}'),
        ("NUMERIC 1.50 / BIGNUMERIC", "struct(numeric '1.50' as n, bignumeric '123456789012345678901234567890.5' as b)",
         '{"n":1.5,"b":123456789012345678901234567890.5}'),
        ("DATE / TIMESTAMP / DATETIME", "struct(date '2024-01-02' as d, timestamp '2024-01-02 03:04:05.123456 UTC' as t, datetime '2024-01-02 03:04:05' as dt)",
         '{"d":"2024-01-02","t":"2024-01-02T03:04:05.123456Z","dt":"2024-01-02T03:04:05"}'),
        ("BYTES", "struct(b'\\x00\\xff' as by)", '{"by":"AP8="}'),
        ("ARRAY / nested STRUCT", "struct([1,2] as a, struct('x' as y) as s)", '{"a":[1,2],"s":{"y":"x"}}'),
        ("large INT64 (> 2^53)", "struct(9007199254740993 as i)", '{"i":9007199254740993}'),
    ]:
        rec.check(f"TO_JSON_STRING {label}", lambda e=expr: q(f"select to_json_string({e})")[0][0], bq_doc)
    rec.check("TO_JSON_STRING of a table row alias (t)",
              lambda: q(f"select to_json_string(t) from {DS}.hist t where k = 1"))
    rec.check("bitwise ^ on INT64", lambda: q("select 6 ^ 3, -1 ^ 1"), [(5, -2)])
    rec.check("& 0xFFFFFFFF on negative INT64", lambda: q("select -1 & 0xFFFFFFFF"), [(4294967295,)])
    rec.check(">> on negative INT64 (BigQuery: logical shift, no sign extension)",
              lambda: q("select -8 >> 1, -1 >> 32"), [(9223372036854775804, 4294967295)])
    rec.check("<< overflow on INT64 (BigQuery drops high bits)", lambda: q("select 1 << 63, 3 << 63"),
              [(-9223372036854775808, -9223372036854775808)])
    rec.check("BIT_XOR(INT64)", lambda: q("select bit_xor(x) from unnest([1, 2, 4, 1]) x"), [(6,)])
    rec.check("SUM(h & 0xFFFFFFFF), SUM(h >> 32) on FARM_FINGERPRINT",
              lambda: q("select sum(farm_fingerprint(cast(x as string)) & 0xFFFFFFFF), "
                        "sum(farm_fingerprint(cast(x as string)) >> 32) from unnest(generate_array(1,1000)) x"))
    rec.check("SUM(INT64) overflow (BigQuery: error 'int64 overflow')",
              lambda: q("select sum(x) from unnest([9223372036854775807, 1]) x"))
    rec.check("result type of SUM(INT64) in table (CREATE TABLE AS)",
              lambda: (q(f"create or replace table {DS}.s as select sum(x) s from unnest([1,2]) x"),
                       [(f.name, f.field_type) for f in bq.get_table(f"{DS}.s").schema])[1],
              [("s", "INTEGER")])
    rec.check("UNNEST(GENERATE_ARRAY(1, n))",
              lambda: q("select count(*), sum(i) from unnest(generate_array(1, 10)) i"), [(10, 55)])
    rec.check("CROSS JOIN UNNEST(GENERATE_ARRAY(1, t.n))",
              lambda: q("select count(*) from (select 3 n union all select 2) t, unnest(generate_array(1, t.n)) i"),
              [(5,)])
    rec.check("LAG/LEAD/SUM() OVER (PARTITION BY .. ORDER BY ..)",
              lambda: q("""select k, lag(k) over w, lead(k) over w, sum(k) over w
                 from unnest([struct('a' as g, 1 as k), ('a', 2), ('b', 5)])
                 window w as (partition by g order by k) order by k"""),
              [(1, None, 2, 1), (2, 1, None, 3), (5, None, None, 5)])
    rec.check("QUALIFY ROW_NUMBER() OVER (...) = 1",
              lambda: q("""select g, k from unnest([struct('a' as g, 1 as k), ('a', 2), ('b', 5)])
                 where true qualify row_number() over (partition by g order by k desc) = 1 order by g"""),
              [("a", 2), ("b", 5)])
    rec.check("ANY_VALUE", lambda: q("select g, any_value(k) from unnest([struct('a' as g, 1 as k)]) group by g"),
              [("a", 1)])
    rec.check("ARRAY_AGG(STRUCT ... ORDER BY ... LIMIT 1)[OFFSET(0)]",
              lambda: q("""select array_agg(struct(k) order by k desc limit 1)[offset(0)].k
                 from unnest([1,3,2]) k"""), [(3,)])
    rec.check("query parameters @session_id (ScalarQueryParameter)",
              lambda: q(f"select count(*) from {DS}.hist where session_id = @session_id",
                        [bigquery.ScalarQueryParameter("session_id", "STRING", "s1")]), [(2,)])
    rec.check("ArrayQueryParameter IN UNNEST(@ids)",
              lambda: q(f"select count(*) from {DS}.hist where k in unnest(@ids)",
                        [bigquery.ArrayQueryParameter("ids", "INT64", [1, 3])]), [(2,)])

    # ---- types
    q(f"""create or replace table {DS}.types (n NUMERIC, bn BIGNUMERIC, f FLOAT64, ts TIMESTAMP,
          d DATE, j JSON, dt DATETIME, b BYTES)""")
    rec.check("INSERT NUMERIC/BIGNUMERIC/FLOAT64 NaN,Inf,-0.0/TIMESTAMP/DATE/JSON",
              lambda: q(f"""insert into {DS}.types values
                 (numeric '12345678901234567890123456789.123456789', bignumeric '1234567890123456789012345678901234567890.12345678901234567890123456789012345678',
                  cast('nan' as float64), timestamp '2024-01-02 03:04:05.123456 UTC', date '2024-01-02',
                  json '{{"a": 1, "b": [true, null]}}', datetime '2024-01-02 03:04:05.123456', b'\\x00\\x01'),
                 (1.5, 2.5, cast('inf' as float64), null, null, null, null, null),
                 (0, 0, cast('-inf' as float64), null, null, null, null, null),
                 (0, 0, -0.0, null, null, null, null, null)"""))
    rec.check("read back types (python values)",
              lambda: [tuple(r.values()) for r in bq.query(f"select * from {DS}.types").result()][:1])
    rec.check("schema of types table",
              lambda: [(f.name, f.field_type) for f in bq.get_table(f"{DS}.types").schema])
    rec.check("NUMERIC precision kept (29 int + 9 frac digits)",
              lambda: q(f"select cast(n as string) from {DS}.types where d is not null"),
              [("12345678901234567890123456789.123456789",)])
    rec.check("BIGNUMERIC precision kept",
              lambda: q(f"select cast(bn as string) from {DS}.types where d is not null"))
    rec.check("NUMERIC overflow (BigQuery: error)", lambda: q("select cast('1e30' as numeric)"))
    rec.check("NaN = NaN (BigQuery: FALSE), NaN IS NOT DISTINCT FROM NaN (BigQuery: TRUE?)",
              lambda: q("select cast('nan' as float64) = cast('nan' as float64), "
                        "cast('nan' as float64) is not distinct from cast('nan' as float64)"))
    rec.check("-0.0 = 0.0 (BigQuery TRUE); CAST(-0.0 AS STRING) (BigQuery '-0')",
              lambda: q("select -0.0 = 0.0, cast(-0.0 as string), cast(cast('nan' as float64) as string), "
                        "cast(cast('-inf' as float64) as string)"))
    rec.check("FLOAT64 special values roundtrip to client",
              lambda: [repr(r[0]) for r in bq.query(f"select f from {DS}.types order by 1").result()])
    rec.check("ORDER BY FLOAT64 with NaN (BigQuery: NULL < NaN < -inf < ... < inf)",
              lambda: [repr(r[0]) for r in bq.query(
                  "select x from unnest([1.0, cast('nan' as float64), cast('-inf' as float64), null]) x order by x"
              ).result()], ["None", "nan", "-inf", "1.0"])
    rec.check("TIMESTAMP microseconds roundtrip",
              lambda: q(f"select format_timestamp('%FT%H:%M:%E6SZ', ts), unix_micros(ts) from {DS}.types where ts is not null"),
              [("2024-01-02T03:04:05.123456Z", 1704164645123456)])
    rec.check("CAST(TIMESTAMP AS STRING) (BigQuery: '2024-01-02 03:04:05.123456+00')",
              lambda: q(f"select cast(ts as string) from {DS}.types where ts is not null"),
              [("2024-01-02 03:04:05.123456+00",)])
    rec.check("JSON column: JSON_VALUE / TO_JSON_STRING(json)",
              lambda: q(f"select json_value(j, '$.a'), to_json_string(j) from {DS}.types where j is not null"),
              [("1", '{"a":1,"b":[true,null]}')])
    rec.check("IS NOT DISTINCT FROM (NULLs)",
              lambda: q("select cast(null as int64) is not distinct from null, 1 is distinct from null"),
              [(True, True)])
    rec.check("SAFE_CAST / SAFE_DIVIDE", lambda: q("select safe_cast('x' as int64), safe_divide(1, 0)"),
              [(None, None)])
    rec.check("1/0 (BigQuery: error 'division by zero')", lambda: q("select 1/0"))

    # ---- DML
    rec.check("INSERT ... SELECT ... WHERE NOT EXISTS (subquery on target)",
              lambda: (q(f"""insert into {DS}.tgt (id, v)
                 select id, v from {DS}.src s where not exists (select 1 from {DS}.tgt t where t.id = s.id)"""),
                       q(f"select id from {DS}.tgt order by id"))[1])
    rec.check("DELETE with subquery (IN / EXISTS)",
              lambda: (q(f"delete from {DS}.tgt where id in (select id from {DS}.src where op = 'skip')"),
                       q(f"delete from {DS}.tgt t where exists (select 1 from {DS}.src s where s.id = t.id and s.op = 'I')"),
                       q(f"select id from {DS}.tgt order by id"))[2])
    rec.check("UPDATE ... FROM other table",
              lambda: (q(f"update {DS}.tgt t set v = s.v from {DS}.src s where s.id = t.id"),
                       q(f"select id, v from {DS}.tgt order by id"))[1])
    rec.check("ALTER TABLE ADD COLUMN", lambda: (q(f"alter table {DS}.tgt add column extra INT64"),
                                                 [f.name for f in bq.get_table(f"{DS}.tgt").schema])[1],
              ["id", "v", "flag", "extra"])
    rec.check("ALTER TABLE ADD COLUMN IF NOT EXISTS",
              ex(f"alter table {DS}.tgt add column if not exists extra INT64"))
    rec.check("ALTER TABLE SET OPTIONS(description=...)",
              lambda: (q(f"alter table {DS}.tgt set options(description='hello')"),
                       bq.get_table(f"{DS}.tgt").description)[1], "hello")
    rec.check("INFORMATION_SCHEMA.COLUMNS",
              lambda: q(f"""select column_name, data_type, ordinal_position from {DS}.INFORMATION_SCHEMA.COLUMNS
                 where table_name = 'tgt' order by ordinal_position"""))
    rec.check("`project`.ds.INFORMATION_SCHEMA.COLUMNS (project-qualified)",
              lambda: q(f"""select count(*) from `{P}`.{DS}.INFORMATION_SCHEMA.COLUMNS where table_name = 'tgt'"""))
    rec.check("INFORMATION_SCHEMA.TABLES",
              lambda: q(f"select table_name, table_type from {DS}.INFORMATION_SCHEMA.TABLES order by 1")[:3])
    rec.check("INFORMATION_SCHEMA.PARTITIONS",
              lambda: q(f"select count(*) from {DS}.INFORMATION_SCHEMA.PARTITIONS"))
    rec.check("__TABLES__", lambda: q(f"select count(*) from {DS}.__TABLES__"))

    # ---- partitioning / clustering / options
    rec.check("CREATE TABLE PARTITION BY date col CLUSTER BY -> recorded in table metadata?",
              lambda: (q(f"""create or replace table {DS}.part (closed_date DATE, k STRING, v INT64)
                 partition by closed_date cluster by k options(require_partition_filter=false)"""),
                       (lambda t: (t.time_partitioning and t.time_partitioning.field, t.clustering_fields))(
                           bq.get_table(f"{DS}.part")))[1], ("closed_date", ["k"]))
    rec.check("CREATE TABLE PARTITION BY DATE(ts)",
              lambda: (q(f"create or replace table {DS}.part2 (ts TIMESTAMP) partition by date(ts)"),
                       (lambda t: t.time_partitioning and (t.time_partitioning.field, t.time_partitioning.type_))(
                           bq.get_table(f"{DS}.part2")))[1], ("ts", "DAY"))
    rec.check("client.create_table with TimePartitioning(field=) + clustering_fields",
              lambda: (lambda t: (t.time_partitioning and t.time_partitioning.field, t.clustering_fields))(
                  bq.create_table(_tbl(bigquery, f"{P}.{DS}.part3"), exists_ok=True)), ("closed_date", ["k"]))
    rec.check("require_partition_filter=true enforced on query without filter?",
              lambda: (q(f"create or replace table {DS}.part4 (closed_date DATE) partition by closed_date "
                         "options(require_partition_filter=true)"),
                       q(f"select count(*) from {DS}.part4"))[1])
    rec.check("CREATE TABLE COPY", ex(f"create or replace table {DS}.tgt_copy copy {DS}.tgt"))
    rec.check("CREATE TABLE CLONE", ex(f"create or replace table {DS}.tgt_clone clone {DS}.tgt"))
    rec.check("CREATE SNAPSHOT TABLE ... CLONE", ex(f"create snapshot table {DS}.tgt_snap clone {DS}.tgt"))
    rec.check("FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()",
              ex(f"select count(*) from {DS}.tgt for system_time as of current_timestamp()"))
    rec.check("DROP TABLE IF EXISTS / DROP TABLE FUNCTION",
              ex(f"drop table if exists {DS}.tgt_copy; drop table function if exists {DS}.at_session"))

    # ---- EXPORT DATA / external tables / LOAD DATA
    gcs_root = Path(env["BQEMU_GCS_LOCAL_ROOT"])
    rec.check("EXPORT DATA OPTIONS(uri='gs://bucket/prefix/*.parquet', format='PARQUET')",
              lambda: (q(f"""export data options(uri='gs://exp-bucket/hist/s1/*.parquet', format='PARQUET',
                   overwrite=true) as select * from {DS}.hist"""),
                       sorted(str(p.relative_to(gcs_root)) for p in gcs_root.rglob("*") if p.is_file()))[1])
    rec.check("EXPORT DATA ... compression='ZSTD'",
              ex(f"""export data options(uri='gs://exp-bucket/hist/z/*.parquet', format='PARQUET',
                   compression='ZSTD') as select * from {DS}.hist"""))
    rec.check("EXPORT DATA: file visible in fake-gcs-server? (list_blobs)",
              lambda: [b.name for b in env["_gcs"].list_blobs("exp-bucket")] if _bucket_exists(env["_gcs"], "exp-bucket") else "bucket exp-bucket does not exist in fake-gcs-server")
    rec.check("EXPORT DATA format=CSV / JSON",
              ex(f"""export data options(uri='gs://exp-bucket/csv/*.csv', format='CSV', header=true)
                   as select * from {DS}.hist;
                   export data options(uri='gs://exp-bucket/json/*.json', format='JSON')
                   as select * from {DS}.hist"""))
    rec.check("EXPORT DATA without wildcard in uri (BigQuery: error, needs exactly one *)",
              ex(f"""export data options(uri='gs://exp-bucket/nowild/x.parquet', format='PARQUET')
                   as select * from {DS}.hist"""))
    rec.check("CREATE EXTERNAL TABLE over gs:// parquet (files under BQEMU_GCS_LOCAL_ROOT)",
              lambda: (q(f"""create or replace external table {DS}.ext options(format='PARQUET',
                   uris=['gs://exp-bucket/hist/s1/*.parquet'])"""),
                       q(f"select count(*), sum(k) from {DS}.ext"))[1], [(3, 6)])
    # Upload a parquet file only to fake-gcs-server, then point an external table at it.
    rec.check("CREATE EXTERNAL TABLE over a file that exists ONLY in fake-gcs-server",
              lambda: (_upload_parquet(env["_gcs"], "only-fake", "data/x.parquet"),
                       q(f"""create or replace external table {DS}.ext_fake options(format='PARQUET',
                          uris=['gs://only-fake/data/*.parquet'])"""),
                       q(f"select count(*) from {DS}.ext_fake"))[2])
    rec.check("external table metadata (type, externalDataConfiguration)",
              lambda: (lambda t: (t.table_type, t.external_data_configuration and
                                  t.external_data_configuration.source_uris))(bq.get_table(f"{DS}.ext")))
    rec.check("external table with hive_partition_uri_prefix",
              lambda: (_write_local_parquet(gcs_root / "hive-bucket" / "t" / "session_id=s9" / "f.parquet"),
                       q(f"""create or replace external table {DS}.ext_hive
                          with partition columns (session_id STRING)
                          options(format='PARQUET', uris=['gs://hive-bucket/t/*'],
                          hive_partition_uri_prefix='gs://hive-bucket/t')"""),
                       q(f"select session_id, count(*) from {DS}.ext_hive group by 1"))[2], [("s9", 3)])
    rec.check("LOAD DATA INTO ds.t FROM FILES(format='PARQUET', uris=[gs://...])",
              lambda: (q(f"""load data into {DS}.loaded from files(format='PARQUET',
                          uris=['gs://exp-bucket/hist/s1/*.parquet'])"""),
                       q(f"select count(*) from {DS}.loaded"))[1], [(3,)])
    rec.check("LOAD DATA OVERWRITE ... (second run replaces)",
              lambda: (q(f"""load data overwrite {DS}.loaded from files(format='PARQUET',
                          uris=['gs://exp-bucket/hist/s1/*.parquet'])"""),
                       q(f"select count(*) from {DS}.loaded"))[1], [(3,)])
    rec.check("client.load_table_from_uri(gs://... parquet)",
              lambda: (bq.load_table_from_uri("gs://exp-bucket/hist/s1/*.parquet", f"{P}.{DS}.loaded2",
                                              job_config=bigquery.LoadJobConfig(source_format="PARQUET")).result(),
                       q(f"select count(*) from {DS}.loaded2"))[1], [(3,)])
    rec.check("client.extract_table to gs:// (extract job)",
              lambda: (bq.extract_table(f"{P}.{DS}.hist", "gs://exp-bucket/extract/*.parquet",
                                        job_config=bigquery.ExtractJobConfig(destination_format="PARQUET")).result(),
                       sorted(p.name for p in (gcs_root / "exp-bucket" / "extract").glob("*")))[1])
    rec.check("client.load_table_from_file (local parquet upload)",
              lambda: (bq.load_table_from_file(io.BytesIO(_parquet_bytes()), f"{P}.{DS}.loaded3",
                                               job_config=bigquery.LoadJobConfig(source_format="PARQUET")).result(),
                       q(f"select count(*) from {DS}.loaded3"))[1], [(3,)])
    rec.check("client.insert_rows_json (streaming)",
              lambda: (bq.insert_rows_json(f"{P}.{DS}.hist", [{"session_id": "s3", "k": 7}]),
                       q(f"select count(*) from {DS}.hist where session_id = 's3'"))[1], [(1,)])
    rec.check("client.query(...).to_arrow()",
              lambda: bq.query(f"select * from {DS}.hist").to_arrow().num_rows)
    rec.check("client.list_rows(table) (tabledata.list)",
              lambda: len(list(bq.list_rows(f"{P}.{DS}.hist"))))
    rec.check("dry_run query (total_bytes_processed)",
              lambda: bq.query(f"select * from {DS}.hist",
                               job_config=bigquery.QueryJobConfig(dry_run=True)).total_bytes_processed)
    rec.check("query job destination + WRITE_APPEND",
              lambda: (bq.query("select 's4' session_id, 1 k", job_config=bigquery.QueryJobConfig(
                  destination=f"{P}.{DS}.hist", write_disposition="WRITE_APPEND")).result(),
                       q(f"select count(*) from {DS}.hist where session_id = 's4'"))[1], [(1,)])


def _tbl(bigquery, ref):
    t = bigquery.Table(ref, schema=[bigquery.SchemaField("closed_date", "DATE"),
                                    bigquery.SchemaField("k", "STRING")])
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


def _write_local_parquet(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_parquet_bytes())


def _bucket_exists(gcs, name):
    return gcs.lookup_bucket(name) is not None


def _upload_parquet(gcs, bucket, name):
    b = gcs.lookup_bucket(bucket) or gcs.create_bucket(bucket)
    b.blob(name).upload_from_string(_parquet_bytes())


def run_gcs(gcs, rec: Recorder):
    from google.api_core import exceptions as gexc

    bucket = rec.check("GCS create_bucket", lambda: gcs.create_bucket("probe-bucket").name, "probe-bucket")
    b = gcs.bucket("probe-bucket")
    rec.check("GCS upload if_generation_match=0 (1st)",
              lambda: (b.blob("a/1.txt").upload_from_string(b"hello", if_generation_match=0), "ok")[1])

    def second():
        try:
            b.blob("a/1.txt").upload_from_string(b"again", if_generation_match=0)
        except gexc.PreconditionFailed as exc:
            return f"412 PreconditionFailed: {exc.message[:120]}"
        return "no error (precondition ignored)"
    rec.check("GCS upload if_generation_match=0 (2nd must be 412)", second)
    rec.check("GCS upload if_generation_match=0 with resumable upload (>8 MiB, chunked) 2nd time",
              lambda: _resumable_twice(b, gexc))
    for i in range(3):
        b.blob(f"a/sub/{i}.txt").upload_from_string(b"x")
    b.blob("b/other.txt").upload_from_string(b"y")
    rec.check("GCS list_blobs(prefix='a/')", lambda: sorted(x.name for x in gcs.list_blobs("probe-bucket", prefix="a/")),
              ["a/1.txt", "a/sub/0.txt", "a/sub/1.txt", "a/sub/2.txt"])
    rec.check("GCS list_blobs(prefix, delimiter='/') prefixes",
              lambda: (lambda it: (sorted(x.name for x in it), sorted(it.prefixes)))(
                  _consume(gcs.list_blobs("probe-bucket", prefix="a/", delimiter="/"))),
              (["a/1.txt"], ["a/sub/"]))
    rec.check("GCS pagination (max_results=2, page_size)",
              lambda: sum(1 for _ in gcs.list_blobs("probe-bucket", page_size=2)), 5)
    rec.check("GCS download_as_bytes", lambda: b.blob("a/1.txt").download_as_bytes(), b"hello")
    rec.check("GCS md5_hash / crc32c match local computation",
              lambda: (lambda bl: (bl.md5_hash == base64.b64encode(__import__("hashlib").md5(b"hello").digest()).decode(),
                                   bl.crc32c == _crc32c_b64(b"hello"), bl.size))(b.get_blob("a/1.txt")),
              (True, True, 5))
    rec.check("GCS download with checksum validation (checksum='crc32c')",
              lambda: b.blob("a/1.txt").download_as_bytes(checksum="crc32c"), b"hello")
    rec.check("GCS storage_class on upload (blob.storage_class='COLDLINE')",
              lambda: (lambda bl: (bl.upload_from_string(b"c"), b.get_blob("c/cold.txt").storage_class)[1])(
                  _with_class(b.blob("c/cold.txt"), "COLDLINE")), "COLDLINE")
    rec.check("GCS bucket default storage_class=NEARLINE at create",
              lambda: (lambda nb: (nb.storage_class, gcs.get_bucket("probe-near").storage_class))(
                  gcs.create_bucket(_with_class(gcs.bucket("probe-near"), "NEARLINE"))), ("NEARLINE", "NEARLINE"))
    rec.check("GCS blob.update_storage_class('ARCHIVE') (rewrite)",
              lambda: (b.get_blob("c/cold.txt").update_storage_class("ARCHIVE"),
                       b.get_blob("c/cold.txt").storage_class)[1], "ARCHIVE")
    rec.check("GCS bucket retention_period set/patch + read back",
              lambda: (lambda bk: (setattr(bk, "retention_period", 3600), bk.patch(),
                                   gcs.get_bucket("probe-bucket").retention_period)[2])(gcs.get_bucket("probe-bucket")),
              3600)
    rec.check("GCS delete object under retention policy (real GCS: 403 retention)",
              lambda: (b.blob("b/other.txt").delete(), "deleted")[1])
    rec.check("GCS lifecycle rule (add_lifecycle_set_storage_class_rule) read back",
              lambda: (lambda bk: (bk.add_lifecycle_set_storage_class_rule("COLDLINE", age=30), bk.patch(),
                                   list(gcs.get_bucket("probe-bucket").lifecycle_rules))[2])(gcs.get_bucket("probe-bucket")))
    rec.check("GCS custom metadata on blob",
              lambda: (lambda bl: (setattr(bl, "metadata", {"session_id": "s1"}), bl.upload_from_string(b"m"),
                                   b.get_blob("m/meta.txt").metadata)[2])(b.blob("m/meta.txt")), {"session_id": "s1"})
    rec.check("GCS blob.exists / delete / exists", lambda: (b.blob("m/meta.txt").exists(),
                                                            b.blob("m/meta.txt").delete(),
                                                            b.blob("m/meta.txt").exists()), (True, None, False))
    rec.check("GCS compose", lambda: (b.blob("comp").compose([b.blob("a/sub/0.txt"), b.blob("a/sub/1.txt")]),
                                      b.blob("comp").download_as_bytes())[1], b"xx")
    rec.check("GCS copy_blob to another bucket",
              lambda: (b.copy_blob(b.blob("a/1.txt"), gcs.bucket("probe-near"), "copied.txt"),
                       gcs.bucket("probe-near").blob("copied.txt").download_as_bytes())[1], b"hello")
    return bucket


def _consume(it):
    list_ = list(it)
    class R(list):
        pass
    r = R(list_)
    r.prefixes = it.prefixes
    return r


def _with_class(obj, cls):
    obj.storage_class = cls
    return obj


def _crc32c_b64(data):
    import google_crc32c

    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def _resumable_twice(b, gexc):
    data = os.urandom(9 * 1024 * 1024)
    bl = b.blob("big/1.bin", chunk_size=4 * 1024 * 1024)
    bl.upload_from_string(data, if_generation_match=0)
    try:
        b.blob("big/1.bin", chunk_size=4 * 1024 * 1024).upload_from_string(data, if_generation_match=0)
    except gexc.PreconditionFailed:
        return "412 on 2nd resumable upload"
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc)[:150]}"
    return "no error (precondition ignored)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rec = Recorder()
    with contextlib.ExitStack() as stack:
        if os.environ.get("BQ_EMULATOR_ENDPOINT"):
            env = {k: os.environ[k] for k in ("BQ_EMULATOR_ENDPOINT", "STORAGE_EMULATOR_HOST",
                                               "BQEMU_GCS_LOCAL_ROOT")}
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
