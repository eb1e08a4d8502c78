{% macro create_backup_functions() %}
    {#- on-run-end: (re)creates, for every backed-up table, the SQL entry points users and the
        CLI call:  restore_<table>(session_id)   -> the table exactly as landed;
                   checksum_<table>(session_id)  -> row count + checksum of that restore. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- do adapter.dispatch('begin_hook_work', 'session_backup')() -%}
    {#- Rendering them costs more than the rest of a steady-state run's bookkeeping; when
        nothing they are rendered from changed since they were created, they stay. -#}
    {%- set fingerprint = session_backup.backup_functions_fingerprint() -%}
    {%- if fingerprint is not none and fingerprint == session_backup.stored_functions_fingerprint() -%}
        {%- do adapter.dispatch('persist_hook_work', 'session_backup')() -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- for table in session_backup.backup_tables() -%}
        {#- The functions follow the stored layout, never today's landing: a refused run, or a
            landing table dropped or renamed since, changes nothing a restore returns. -#}
        {%- set columns = session_backup.restore_columns(table.name) -%}
        {%- if columns is none -%}
            {%- continue -%}
        {%- endif -%}
        {%- set restore_sql = session_backup.restore_select(table, 'requested_session_id') -%}
        {%- if restore_sql -%}
            {%- set value_columns = columns | rejectattr('name', 'equalto', 'session_id') | list -%}
            {%- set restore_name = 'restore_' ~ table.name -%}
            {%- do statements.append(session_backup.create_table_function(restore_name, restore_sql)) -%}
            {%- set checksum_sql = session_backup.checksum_of_restore(
                session_backup.call_table_function(restore_name, 'requested_session_id'), value_columns) -%}
            {%- do statements.append(session_backup.create_table_function('checksum_' ~ table.name, checksum_sql)) -%}
            {#- Engine-specific extras (BigQuery: restore_<table>_pruned, see macros/bigquery/). -#}
            {%- do statements.extend(session_backup.pruned_backup_functions(table)) -%}
            {#- Many sessions, point in time, diff and row history (see macros/backtest/). -#}
            {%- do statements.extend(session_backup.backtest_functions(table)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for statement_sql in statements -%}
        {%- do run_query(statement_sql) -%}
    {%- endfor -%}
    {%- if fingerprint is not none -%}
        {#- Taken again: the functions just created are part of what it covers. -#}
        {%- do session_backup.store_functions_fingerprint(session_backup.backup_functions_fingerprint()) -%}
    {%- endif -%}
    {%- do adapter.dispatch('persist_hook_work', 'session_backup')() -%}
    {{ return('select 1') }}
{% endmacro %}


{% macro checksum_of_restore(restore_call, value_columns) %}
    {#- Row count + checksum of a restore, as the manifest recorded them at backup time. -#}
    {%- set checksum_sql -%}
        select {{ session_backup.checksum_columns('backup_row_hash') }}
        from (
            select {{ session_backup.row_hash(value_columns, 'restored') }} as backup_row_hash
            from {{ restore_call }} as restored
        ) as hashed
    {%- endset -%}
    {{ return(checksum_sql) }}
{% endmacro %}


{% macro restore_select(table, session_parameter) %}
    {#- The restore query for a table, by strategy; empty until the table has been backed up. -#}
    {%- if table.strategy == 'history' -%}
        {%- if session_backup.existing_backup_relation('head_' ~ table.name) is none
            or session_backup.existing_backup_relation('history_' ~ table.name) is none -%}
            {{ return('') }}
        {%- endif -%}
        {%- set columns = session_backup.restore_columns(table.name) -%}
        {{ return(session_backup.restore_history_select(table, columns, session_parameter)) }}
    {%- endif -%}
    {{ return(session_backup.restore_select_for_strategy(table, session_parameter)) }}
{% endmacro %}


{% macro create_table_function(name, body_sql) %}
    {{ return(adapter.dispatch('create_table_function', 'session_backup')(name, body_sql)) }}
{% endmacro %}

{% macro duckdb__create_table_function(name, body_sql) %}
    {#- A DuckDB table macro is stored in the database and called like a table. -#}
    create or replace macro {{ session_backup.quote_name(target.database) }}.{{ session_backup.quote_name(target.schema) }}.{{ name }}(requested_session_id) as table
    {{ body_sql }}
{% endmacro %}

{% macro bigquery__create_table_function(name, body_sql) %}
    create or replace table function `{{ target.database }}`.`{{ target.schema }}`.`{{ name }}`(requested_session_id STRING) as (
    {{ body_sql }}
    )
{% endmacro %}


{% macro call_table_function(name, argument) %}
    {{ return(adapter.dispatch('call_table_function', 'session_backup')(name, argument)) }}
{% endmacro %}

{% macro duckdb__call_table_function(name, argument) %}
    {{ session_backup.quote_name(target.database) }}.{{ session_backup.quote_name(target.schema) }}.{{ name }}({{ argument }})
{% endmacro %}

{% macro bigquery__call_table_function(name, argument) %}
    `{{ target.database }}`.`{{ target.schema }}`.`{{ name }}`({{ argument }})
{% endmacro %}


{% macro default__begin_hook_work() %}
    {#- BigQuery DDL is committed as it runs. -#}
{% endmacro %}

{% macro duckdb__begin_hook_work() %}
    {#- dbt-duckdb runs hook statements outside a transaction unless one was begun; begin one
        through dbt (auto_begin) so dbt knows it is open and the commit below always has one. -#}
    {%- call statement('begin_backup_functions', auto_begin=true) -%}select 1 as ready{%- endcall -%}
{% endmacro %}

{% macro default__persist_hook_work() %}
    {#- BigQuery DDL is committed as it runs. -#}
{% endmacro %}

{% macro duckdb__persist_hook_work() %}
    {#- dbt-duckdb rolls back its on-run-end connection; the functions must outlive the run. -#}
    {%- do adapter.commit() -%}
{% endmacro %}
