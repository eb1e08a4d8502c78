"""Run the throwaway dbt project in ./dbt_smoke against bqemulator and report what works.

    .venv/bin/python tools/emulator_probes/probe_dbt.py [--state-dir DIR] [--out results.json]

Starts its own emulators (scripts/emulators.py) unless BQ_EMULATOR_ENDPOINT is set. The
profiles.yml is generated into the state dir (the repository's .gitignore ignores profiles.yml):

    emu_smoke:
      target: emu
      outputs:
        emu:
          type: bigquery
          method: oauth-secrets
          token: dummy
          project: local-proj
          dataset: smoke
          api_endpoint: http://127.0.0.1:PORT
          ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from pathlib import Path

from _probe_common import HERE, Recorder, emulators

PROJECT_DIR = HERE / "dbt_smoke"
P = "local-proj"

PROFILE = """emu_smoke:
  target: emu
  outputs:
    emu:
      type: bigquery
      method: oauth-secrets
      token: dummy
      project: {project}
      dataset: "{{{{ env_var('DBT_SMOKE_DATASET', 'smoke') }}}}"
      api_endpoint: {endpoint}
      location: US
      threads: 1
      job_retries: 0
      job_execution_timeout_seconds: 120
"""


def dbt(args: list[str], vars_: dict, dataset: str):
    """Invoke dbt in-process; return (ok, {node_name: (status, message)}, exception_text)."""
    from dbt.cli.main import dbtRunner

    os.environ["DBT_SMOKE_DATASET"] = dataset
    full = args + [
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        os.environ["DBT_SMOKE_PROFILES"],
        "--vars",
        json.dumps(vars_),
    ]
    res = dbtRunner().invoke(full)
    nodes = {}
    results = getattr(res.result, "results", None) or []
    for r in results:
        msg = " ".join(str(r.message or "").split())
        name = r.node.name if hasattr(r, "node") else getattr(r, "unique_id", "?")
        nodes[name] = (str(r.status), msg[:500])
    exc = None if res.exception is None else " ".join(str(res.exception).split())[:500]
    return res.success, nodes, exc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rec = Recorder()
    with contextlib.ExitStack() as stack:
        sd = Path(a.state_dir or stack.enter_context(tempfile.TemporaryDirectory()))
        sd.mkdir(parents=True, exist_ok=True)
        if os.environ.get("BQ_EMULATOR_ENDPOINT"):
            env = {"BQ_EMULATOR_ENDPOINT": os.environ["BQ_EMULATOR_ENDPOINT"]}
        else:
            env = stack.enter_context(emulators.running_emulators(sd / "emulators"))
        prof = sd / "profiles"
        prof.mkdir(exist_ok=True)
        (prof / "profiles.yml").write_text(
            PROFILE.format(project=P, endpoint=env["BQ_EMULATOR_ENDPOINT"])
        )
        os.environ["DBT_SMOKE_PROFILES"] = str(prof)
        os.environ["DBT_TARGET_PATH"] = str(sd / "target")
        os.environ["DBT_LOG_PATH"] = str(sd / "logs")
        run_probes(env, rec)
    if a.out:
        rec.dump(a.out)
    bad = [r for r in rec.rows if r["status"] != "ok"]
    print(f"\n{len(rec.rows)} probes, {len(bad)} not ok")


def _try(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        return "error: " + " ".join(str(getattr(exc, "message", exc)).split())[:200]


def run_probes(env, rec: Recorder):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    bq = bigquery.Client(
        project=P,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": env["BQ_EMULATOR_ENDPOINT"]},
    )

    def q(sql):
        return [tuple(r.values()) for r in bq.query(sql).result()]

    def node(step, name, nodes, expect="success"):
        st, msg = nodes.get(name, ("missing", ""))
        rec.rows.append(
            {
                "feature": f"dbt {step}: {name}",
                "status": "ok" if st == expect else st.upper(),
                "detail": msg,
            }
        )
        r = rec.rows[-1]
        print(f"[{r['status']:5}] {r['feature']}: {r['detail']}", flush=True)

    # ---- Phase A: dbt-bigquery's own strategy whitelist (no override), expected failures enabled
    va = {"run": 1, "probe_failures": True, "custom_strategies": False, "sql_add_columns": False}
    ok, nodes, exc = dbt(["seed"], va, "smoke_a")
    rec.check(
        "dbt seed (phase A)",
        lambda: (ok, nodes.get("landing"), exc),
        (True, ("success", nodes.get("landing", ("", ""))[1]), None),
    )
    sel = [
        "--select",
        "smoke_incr_append smoke_incr_custom smoke_insert_overwrite smoke_incr_merge src_rows",
    ]
    ok, nodes, exc = dbt(["run"] + sel, va, "smoke_a")
    for n in (
        "smoke_incr_append",
        "smoke_incr_custom",
        "smoke_insert_overwrite",
        "smoke_incr_merge",
    ):
        node("run 1 (no overrides)", n, nodes)
    ok, nodes, exc = dbt(["run"] + sel, dict(va, run=2), "smoke_a")
    for n in ("smoke_insert_overwrite", "smoke_incr_merge"):
        node("run 2 (no overrides)", n, nodes)
    rec.check(
        "on_schema_change via tables.patch (no override): tables.get vs SQL",
        lambda: (
            [f.name for f in bq.get_table(f"{P}.smoke_a.smoke_incr_merge").schema],
            q(
                "select count(*) from smoke_a.INFORMATION_SCHEMA.COLUMNS where table_name = 'smoke_incr_merge'"
            ),
            _try(lambda: q("select note from smoke_a.smoke_incr_merge limit 1")),
        ),
    )
    ok, nodes, exc = dbt(["run"] + sel, dict(va, run=2), "smoke_a")
    node("run 3 (no overrides; table stays broken?)", "smoke_incr_merge", nodes)

    # ---- Phase B: the example project as is
    vb = {"run": 1}
    ok, nodes, exc = dbt(["seed"], vb, "smoke")
    node("seed", "landing", nodes)
    rec.check(
        "seed: table content and column types (column_types: numeric/date/int64)",
        lambda: (
            q("select count(*), sum(amount) from smoke.landing"),
            [(f.name, f.field_type) for f in bq.get_table(f"{P}.smoke.landing").schema],
        ),
    )
    ok, nodes, exc = dbt(["seed", "--full-refresh"], vb, "smoke")
    node("seed --full-refresh", "landing", nodes)
    ok, nodes, exc = dbt(["seed"], vb, "smoke")
    node("seed (2nd time, table exists)", "landing", nodes)

    ok, nodes, exc = dbt(["run"], vb, "smoke")
    rec.check("dbt run 1: overall", lambda: (ok, exc))
    for n in sorted(nodes):
        node("run 1", n, nodes)

    def meta(t):
        t = bq.get_table(f"{P}.smoke.{t}")
        tp = t.time_partitioning
        return {
            "partition": tp and (tp.field, tp.type_),
            "cluster": t.clustering_fields,
            "cols": [(f.name, f.field_type) for f in t.schema],
            "description": t.description,
        }

    rec.check(
        "table + partition_by date + cluster_by: metadata",
        lambda: {k: v for k, v in meta("smoke_table").items() if k in ("partition", "cluster")},
        {"partition": ("closed_date", "DAY"), "cluster": ["session_id"]},
    )
    rec.check(
        "incremental merge run 1: rows",
        lambda: q("select row_key, amount from smoke.smoke_incr_merge order by 1"),
    )
    rec.check(
        "incremental merge: partition/cluster metadata after run 1",
        lambda: {
            k: v for k, v in meta("smoke_incr_merge").items() if k in ("partition", "cluster")
        },
        {"partition": ("closed_date", "DAY"), "cluster": ["session_id"]},
    )
    rec.check(
        "pre_hook + post_hook ran (hook_log rows) / post_hook ALTER TABLE SET OPTIONS description",
        lambda: (q("select count(*) from smoke.hook_log"), meta("smoke_hooks")["description"]),
        ([(1,)], "set by post_hook"),
    )
    rec.check(
        "run_query inside a model",
        lambda: q("select landing_rows, max_key from smoke.smoke_run_query"),
        [(3, 3)],
    )
    rec.check(
        "custom strategy head_history run 1 (first build = CTAS)",
        lambda: q("select count(*) from smoke.smoke_incr_custom"),
        [(3,)],
    )

    v2 = {"run": 2}
    ok, nodes, exc = dbt(["run"], v2, "smoke")
    rec.check("dbt run 2: overall", lambda: (ok, exc))
    for n in sorted(nodes):
        node("run 2", n, nodes)
    rec.check(
        "incremental merge run 2: rows updated/inserted (row 3 kept: merge never deletes)",
        lambda: q("select row_key, amount from smoke.smoke_incr_merge order by 1"),
    )
    rec.check(
        "on_schema_change=append_new_columns: 'note' in tables.get schema",
        lambda: [c for c, _ in meta("smoke_incr_merge")["cols"]],
    )
    rec.check(
        "on_schema_change=append_new_columns: 'note' queryable with values",
        lambda: q("select row_key, note from smoke.smoke_incr_merge order by 1"),
    )
    rec.check(
        "incremental merge (no on_schema_change) run 2 rows",
        lambda: q("select row_key, amount from smoke.smoke_incr_merge_plain order by 1"),
    )
    rec.check(
        "custom strategy head_history run 2: keys 1,2,4 (3 deleted, 1 updated)",
        lambda: q("select row_key, amount from smoke.smoke_incr_custom order by 1"),
    )
    rec.check(
        "merge + partition_by + _dbt_max_partition (declare in script) run 2: rows",
        lambda: q("select row_key, amount from smoke.smoke_incr_max_partition order by 1"),
        [(1, 10.5), (2, 20.25), (3, 30), (4, 40)],
    )
    rec.check(
        "append via get_incremental_append_sql (override) run 2: 3 + 4 rows",
        lambda: q("select count(*) from smoke.smoke_incr_append"),
        [(7,)],
    )

    ok, nodes, exc = dbt(["run", "--select", "smoke_incr_merge"], v2, "smoke")
    node("run 3 (same vars, schema already changed)", "smoke_incr_merge", nodes)
    before = q("select count(*) from smoke.smoke_incr_merge")
    ok, nodes, exc = dbt(
        ["run", "--full-refresh", "--select", "smoke_incr_merge smoke_incr_merge_plain"],
        v2,
        "smoke",
    )
    node("run --full-refresh (model has full_refresh=false)", "smoke_incr_merge", nodes)
    node("run --full-refresh (partitioned incremental, rebuilt)", "smoke_incr_merge_plain", nodes)
    rec.check(
        "full_refresh=false: row count unchanged by --full-refresh",
        lambda: (before, q("select count(*) from smoke.smoke_incr_merge")),
    )
    rec.check(
        "--full-refresh of smoke_incr_merge_plain rebuilt it from the run-2 source (3 rows)",
        lambda: q("select count(*) from smoke.smoke_incr_merge_plain"),
        [(3,)],
    )

    ok, nodes, exc = dbt(["test"], v2, "smoke")
    rec.check("dbt test: overall", lambda: (ok, exc))
    for n in sorted(nodes):
        node("test", n, nodes, expect="pass")

    ok, nodes, exc = dbt(["build"], v2, "smoke")
    rec.check(
        "dbt build (seed+run+test+unit) overall",
        lambda: (ok, exc, sorted({s for s, _ in nodes.values()})),
    )
    ok, nodes, exc = dbt(["docs", "generate"], v2, "smoke")
    rec.check("dbt docs generate", lambda: (ok, exc))
    ok, nodes, exc = (
        dbt(["snapshot"], v2, "smoke") if (PROJECT_DIR / "snapshots").exists() else (None, {}, None)
    )
    if ok is not None:
        for n in sorted(nodes):
            node("snapshot", n, nodes)
    ok, nodes, exc = (
        dbt(["run-operation", "smoke_create_table_function"], v2, "smoke")
        if (PROJECT_DIR / "macros" / "smoke_ops.sql").exists()
        else (None, {}, "skipped")
    )
    if ok is not None:
        rec.check(
            "run-operation: CREATE TABLE FUNCTION via run_query, then select from it",
            lambda: (ok, exc, q("select count(*) from smoke.rows_at('s3')")),
        )


if __name__ == "__main__":
    main()
