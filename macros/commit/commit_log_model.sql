{% macro commit_log_model() %}
    {#- One row per history table for this run: what backup_commit wrote. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set tables = session_backup.backup_tables() | selectattr('strategy', 'equalto', 'history') | list -%}
    {%- for table in tables %}
    select
        {{ session_backup.sql_string(invocation_id) }} as invocation_id,
        {{ session_backup.sql_string(table.name) }} as table_name,
        (select count(*) from {{ session_backup.session_checksums(table.name) }} as checksums where not is_recheck) as sessions,
        (select count(*) from {{ session_backup.backup_ref('changes', table.name) }} where change_kind = 'closed') as closed_versions,
        (select count(*) from {{ session_backup.backup_ref('changes', table.name) }} where change_kind = 'opened') as opened_versions,
        {{ dbt.current_timestamp() }} as committed_at
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endif -%}
{% endmacro %}
