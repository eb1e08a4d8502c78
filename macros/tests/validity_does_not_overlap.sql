{% test validity_does_not_overlap(model, table_name) %}
    {% if not execute %}
    select 1 as placeholder where 1 = 0
    {%- else %}
    {#- The versions of one (scope, key) — History's closed ones and Head's open one — form
        non-overlapping, non-empty intervals of session sequence numbers. -#}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.restore_columns(table_name, include_session_id=false) -%}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table_name) -%}
    {%- if table.is_keyless -%}
        {%- set identity_sql = session_backup.row_hash(columns) ~ " as identity_hash" -%}
        {%- set identity = ['identity_hash'] -%}
    {%- else -%}
        {%- set identity = session_backup.head_identity(table, columns) -%}
        {%- set identity_sql = identity | join(', ') -%}
    {%- endif -%}
    with
    versions as (
        {%- for history in session_backup.history_sources(table) %}
        select backup_scope, {{ identity_sql }}, backup_valid_from_seq, backup_valid_to_seq
        from {{ history }}
        union all
        {%- endfor %}
        select backup_scope, {{ identity_sql }}, backup_valid_from_seq, cast(null as {{ dbt.type_bigint() }})
        from {{ head }}
    ),
    ordered as (
        select
            *,
            lead(backup_valid_from_seq) over (
                partition by backup_scope, {{ identity | join(', ') }}
                order by backup_valid_from_seq
            ) as next_valid_from_seq
        from versions
    )
    select *
    from ordered
    where backup_valid_to_seq <= backup_valid_from_seq
        or (backup_valid_to_seq is null and next_valid_from_seq is not null)
        or next_valid_from_seq < backup_valid_to_seq
    {%- endif %}
{% endtest %}
