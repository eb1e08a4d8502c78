{% macro snapshot_source(table_name) %}
    {#- The query a dbt snapshot (strategy `snapshot`, the baseline) captures: the landing rows of
        the session chosen by checksums_<table>, with the scope and the content hash, plus the
        current rows of every other scope unchanged. The snapshot invalidates every current row
        missing from its query (hard_deletes), so scopes this run does not touch must be there.
        Keyless tables are captured one row per distinct content, with its multiplicity. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- do session_backup.assert_no_reserved_columns(table_name, columns) -%}
    {%- set snapshot = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set captured = ['backup_scope'] + (columns | map(attribute='name') | list) + ['backup_row_hash']
        + (['backup_row_check_hash', 'backup_row_count'] if table.is_keyless else []) -%}
    {%- set quoted = [] -%}
    {%- for name in captured -%}{%- do quoted.append(session_backup.quote_name(name)) -%}{%- endfor -%}
with

next_session as (
    select
        session_id,
        backup_scope
    from {{ session_backup.backup_ref('checksums', table_name) }}
),

landing_rows as (
    select
        next_session.backup_scope,
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
        {%- if table.is_keyless %},
        {{ session_backup.row_check_hash(columns, 'landing') }} as backup_row_check_hash
        {%- endif %}
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join next_session
        on landing.session_id = next_session.session_id
),

{% if table.is_keyless -%}
session_rows as (
    select
        backup_scope,
        {%- for column in columns %}
        any_value({{ session_backup.quote_name(column.name) }}) as {{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        backup_row_hash,
        backup_row_check_hash,
        count(*) as backup_row_count
    from landing_rows
    group by backup_scope, backup_row_hash, backup_row_check_hash
),
{%- else -%}
session_rows as (
    select * from landing_rows
),
{%- endif %}

untouched_scopes as (
    {%- if snapshot %}
    select {{ quoted | join(', ') }}
    from {{ snapshot }}
    where dbt_valid_to is null
        and backup_scope not in (select backup_scope from next_session)
    {%- else %}
    select {{ quoted | join(', ') }}
    from session_rows
    where 1 = 0
    {%- endif %}
)

select {{ quoted | join(', ') }} from session_rows
union all
select {{ quoted | join(', ') }} from untouched_scopes
    {%- endif -%}
{% endmacro %}
