{% macro pruned_backup_functions(table) %}
    {#- Extra restore entry points an engine needs beside restore_<t>/checksum_<t>; called by
        create_backup_functions (on-run-end) for every backed-up table. -#}
    {{ return(adapter.dispatch('pruned_backup_functions', 'session_backup')(table)) }}
{% endmacro %}


{% macro default__pruned_backup_functions(table) %}
    {#- DuckDB reads its own files: no bytes-scanned bill, nothing to prune. -#}
    {{ return([]) }}
{% endmacro %}


{% macro bigquery__pruned_backup_functions(table) %}
    {#- restore_<t>(session_id) finds the session's scope and position with a subquery, and
        BigQuery prunes partitions and clustered blocks only on constant filters: it reads the
        referenced columns of all of Head and all of History. This variant takes the scope and
        a date on or before the session's start as parameters (constants in the caller's query),
        so it reads one scope's blocks of Head and History and only the History partitions
        closed since the session started:

            select * from `proj.backup.restore_orders_pruned`('VN-...', 'VN', date '2024-01-01')

        The CLI's `restore` on BigQuery looks the two values up first and calls this one. Wrong
        values raise (the session's scope must match and the date must not be after its start),
        so a caller can never get a silently partial restore. History tables only. -#}
    {%- if table.strategy != 'history' -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set columns = session_backup.restore_columns(table.name) -%}
    {%- set body = session_backup.restore_history_select(table, columns, 'requested_session_id',
        prune={'scope': 'requested_scope', 'closed_since': 'closed_since'}) -%}
    {%- set statement -%}
    create or replace table function `{{ target.database }}`.`{{ target.schema }}`.`restore_{{ table.name }}_pruned`(
        requested_session_id STRING, requested_scope STRING, closed_since DATE) as (
    {{ body }}
    )
    {%- endset -%}
    {#- verify's entry point: the checksum of the pruned restore, so `verify` on BigQuery reads
        exactly what a restore of the same session reads. -#}
    {%- set value_columns = columns | rejectattr('name', 'equalto', 'session_id') | list -%}
    {%- set checksum_body = session_backup.checksum_of_restore(
        '`' ~ target.database ~ '`.`' ~ target.schema ~ '`.`restore_' ~ table.name
        ~ '_pruned`(requested_session_id, requested_scope, closed_since)', value_columns) -%}
    {%- set checksum_statement -%}
    create or replace table function `{{ target.database }}`.`{{ target.schema }}`.`checksum_{{ table.name }}_pruned`(
        requested_session_id STRING, requested_scope STRING, closed_since DATE) as (
    {{ checksum_body }}
    )
    {%- endset -%}
    {{ return([statement, checksum_statement]) }}
{% endmacro %}
