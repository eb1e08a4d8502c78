{% macro head_model(table_name) %}
    {#- What Head must change for this batch: `upsert` a newly opened version, or `delete` a key
        whose version closed with nothing replacing it. Head holds the landing columns, the
        session the version became valid in and, for keyless tables, the content hash pair. The backup_head materialization merges
        these rows and records the manifest in the same transaction. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- set changes = ref('changes_' ~ table_name) -%}
    {%- set identity = session_backup.head_identity(table, columns) -%}
with

opened as (
    select * from {{ changes }}
    where change_kind = 'opened'
),

closed_without_successor as (
    select closed.*
    from {{ changes }} as closed
    where closed.change_kind = 'closed'
        and closed.is_head_version
        and not exists (
            select 1
            from opened
            where opened.backup_scope = closed.backup_scope
            {%- for name in identity %}
                and opened.{{ name }} = closed.{{ name }}
            {%- endfor %}
        )
),

head_changes as (
    select *, 'upsert' as backup_change from opened
    union all
    select *, 'delete' as backup_change from closed_without_successor
)

select
    backup_scope,
    {%- for column in columns %}
    {{ adapter.quote(column.name) }},
    {%- endfor %}
    {%- if table.is_keyless %}
    {#- A keyless row's identity is its content hash pair; keyed rows keep no hash. #}
    backup_row_hash,
    backup_row_check_hash,
    backup_row_count,
    {%- endif %}
    backup_valid_from_seq,
    backup_valid_from_session_id,
    backup_change
from head_changes
    {%- endif -%}
{% endmacro %}


{% macro head_identity(table, columns) %}
    {#- The columns that identify one Head row within a scope. -#}
    {%- if table.is_keyless -%}
        {{ return(['backup_row_hash', 'backup_row_check_hash']) }}
    {%- endif -%}
    {%- set key_names = table.key | map('lower') | list -%}
    {%- set identity = [] -%}
    {%- for column in columns if column.name | lower in key_names -%}
        {%- do identity.append(adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{ return(identity) }}
{% endmacro %}
