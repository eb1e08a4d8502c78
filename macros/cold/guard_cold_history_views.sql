{% macro guard_cold_history_views() %}
    {#- on-run-end, before create_backup_functions. `cold_history_<table>` (made by
        `session-backup tier`) reads the Parquet files of the cold manifest. If one of them is not
        on this machine (lost, or a gs:// file not downloaded into the cache yet), binding the
        view would fail and stop every backup. Instead the view is swapped for a guard that
        raises a clear error, naming the file, in any restore that needs that table's cold
        ranges: nothing is silently skipped, and the backup itself carries on.
        `session-backup restore|verify|tier --check` fetch and check the files and put the real
        view back (see docs/cold-storage.md). -#}
    {{ return(adapter.dispatch('guard_cold_history_views', 'session_backup')()) }}
{% endmacro %}


{% macro default__guard_cold_history_views() %}
    {#- BigQuery reads cold Parquet straight from GCS through an external table: there is no
        local copy to check. -#}
    {{ return('select 1') }}
{% endmacro %}


{% macro duckdb__guard_cold_history_views() %}
    {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
    {%- set manifest = session_backup.existing_backup_relation('cold_manifest') -%}
    {%- set view_state = session_backup.existing_backup_relation('cold_view_state') -%}
    {%- if manifest is none or view_state is none -%}{{ return('select 1') }}{%- endif -%}
    {%- set active = run_query("select table_name, read_path from " ~ manifest
        ~ " where state = 'active' order by table_name, read_path") -%}
    {%- set paths_by_table = {} -%}
    {%- for row in active.rows -%}
        {%- do paths_by_table.setdefault(row[0], []).append(row[1]) -%}
    {%- endfor -%}
    {%- for table_name, paths in paths_by_table.items() -%}
        {%- set literals = [] -%}
        {%- for path in paths -%}{%- do literals.append(session_backup._duckdb_literal(path)) -%}{%- endfor -%}
        {%- set found = run_query("select file from glob([" ~ literals | join(', ') ~ "])") -%}
        {%- set present = found.columns[0].values() | list -%}
        {%- set missing = [] -%}
        {%- for path in paths if path not in present -%}{%- do missing.append(path) -%}{%- endfor -%}
        {%- set history = session_backup.existing_backup_relation('history_' ~ table_name) -%}
        {%- if missing and history is not none -%}
            {%- do run_query(session_backup._cold_guard_view_sql(table_name, history, manifest, missing)) -%}
            {%- do run_query("delete from " ~ view_state ~ " where table_name = " ~ session_backup._duckdb_literal(table_name)) -%}
            {%- do run_query("insert into " ~ view_state ~ " values (" ~ session_backup._duckdb_literal(table_name)
                ~ ", 'guard', null, now())") -%}
            {%- do log("session_backup: " ~ missing | length ~ " cold file(s) of " ~ table_name
                ~ " are not on this machine (e.g. " ~ missing[0] ~ "); restores that need them fail until "
                ~ "`session-backup verify` or `session-backup tier --check` fetches and checks them.", info=true) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- No commit here: the hook's statements run outside a transaction, and if a dbt version
        opens one, create_backup_functions (next hook, same connection) commits it. -#}
    {{ return('select 1') }}
{% endmacro %}


{% macro _cold_guard_view_sql(table_name, history, manifest, missing) %}
    {#- One row per cold file, carrying its scope and validity range, whose first value column
        raises when a restore reads it: only restores that need this table's cold ranges fail. -#}
    {%- set columns = adapter.get_columns_in_relation(history) -%}
    {%- set names = columns | map(attribute='name') | map('lower') | list -%}
    {%- set value_columns = [] -%}
    {%- for column in columns if not (column.name | lower).startswith('backup_') -%}
        {%- do value_columns.append(column) -%}
    {%- endfor -%}
    {%- set first = value_columns[0] -%}
    {%- set message = "session_backup: cold history of table " ~ table_name ~ " is detached: "
        ~ missing | length ~ " cold file(s) missing on this machine, e.g. " ~ missing[0]
        ~ ". `session-backup verify` or `session-backup tier --check` fetch gs:// files and check them"
        ~ " (a lost local file: see docs/cold-storage.md). This range: " -%}
    create or replace view {{ history.incorporate(path={'identifier': 'cold_history_' ~ table_name}) }} as
    {#- Unqualified names: inside a DuckDB view they resolve in the view's schema, while a
        fully qualified "backup"."backup".x is refused as ambiguous (catalog and schema share a name). #}
    select * from {{ session_backup.quote_name(history.identifier) }} where false
    union all by name
    select
        manifest.scope as backup_scope,
        manifest.min_valid_from_seq as backup_valid_from_seq,
        manifest.max_valid_to_seq as backup_valid_to_seq,
        {%- if 'backup_row_count' in names %}
        cast(1 as bigint) as backup_row_count,
        {%- endif %}
        cast(error({{ session_backup._duckdb_literal(message) }} || manifest.file_uri) as {{ first.data_type }}) as {{ session_backup.quote_name(first.name) }}
    from {{ session_backup.quote_name(manifest.identifier) }} as manifest
    where manifest.table_name = {{ session_backup._duckdb_literal(table_name) }}
        and manifest.state = 'active'
{% endmacro %}


{% macro _duckdb_literal(value) %}
    {#- A DuckDB string literal: quotes doubled; backslashes are plain characters in DuckDB. -#}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}
