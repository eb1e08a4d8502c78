{% macro backed_up_sessions(table) %}
    {#- The sessions this table holds a backup of (a manifest row), with their position:
        session_id, scope, started_at, session_seq. Claimed but not yet backed-up sessions
        (and failed or running ones, never claimed) are not among them. -#}
    {%- set sessions = session_backup.existing_backup_relation('backup_sessions') -%}
    {%- set manifest = session_backup.existing_backup_relation('backup_manifest') -%}
    select
        sessions.session_id,
        sessions.scope,
        sessions.started_at,
        sessions.session_seq
    from {{ sessions }} as sessions
    where exists (
        select 1
        from {{ manifest }} as manifest
        where manifest.session_id = sessions.session_id
            and manifest.table_name = {{ session_backup.sql_string(table.name) }}
    )
{% endmacro %}
