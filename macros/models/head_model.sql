{% macro head_model(table_name) %}
    {#- The versions this run opens, in Head's layout: what Head gains. The head_<t> node only
        keeps the table's shape (backup_table); backup_commit applies these rows together with
        the deletions of head_changes() in the run's one transaction. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    select {{ session_backup.head_column_names(table, columns) | join(', ') }}
    from ({{ session_backup.head_changes(table_name) }}) as head_changes
    where backup_change = 'upsert'
    {%- endif -%}
{% endmacro %}


{% macro head_changes(table_name) %}
    {#- What Head must change for this batch: `upsert` a newly opened version, or `delete` a key
        whose version closed with nothing replacing it. -#}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- set changes = session_backup.backup_ref('changes', table_name) -%}
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
    {{ session_backup.head_column_names(table, columns) | join(', ') }},
    backup_change
from head_changes
{% endmacro %}


{% macro head_column_names(table, columns) %}
    {#- Head's columns, quoted: the scope, the landing columns, and the session the version
        became valid in; a keyless row's identity is its content hash pair (keyed rows keep no
        hash: it is recomputed when compared). -#}
    {%- set names = ['backup_scope'] -%}
    {%- for column in columns -%}{%- do names.append(session_backup.quote_name(column.name)) -%}{%- endfor -%}
    {%- if table.is_keyless -%}
        {%- do names.extend(['backup_row_hash', 'backup_row_check_hash', 'backup_row_count']) -%}
    {%- endif -%}
    {%- do names.extend(['backup_valid_from_seq', 'backup_valid_from_session_id']) -%}
    {{ return(names) }}
{% endmacro %}


{% macro head_identity(table, columns) %}
    {#- The columns that identify one Head row within a scope. -#}
    {%- if table.is_keyless -%}
        {{ return(['backup_row_hash', 'backup_row_check_hash']) }}
    {%- endif -%}
    {%- set key_names = table.key | map('lower') | list -%}
    {%- set identity = [] -%}
    {%- for column in columns if column.name | lower in key_names -%}
        {%- do identity.append(session_backup.quote_name(column.name)) -%}
    {%- endfor -%}
    {{ return(identity) }}
{% endmacro %}
