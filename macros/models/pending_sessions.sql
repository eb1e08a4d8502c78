{% macro pending_sessions(table_name) %}
    {#- Claimed sessions this table has not recorded in the manifest yet.
        A table declared after others starts where the declared tables stand, so it never
        claims sessions whose landing rows it did not see. -#}
    {%- set declared = [] -%}
    {%- for table in session_backup.backup_tables() -%}
        {%- do declared.append(session_backup.sql_string(table.name)) -%}
    {%- endfor -%}
    select
        claimed.session_id,
        claimed.scope as backup_scope,
        claimed.started_at,
        claimed.session_seq
    from {{ ref('backup_sessions') }} as claimed
    left join (
        select
            sessions.scope,
            max(case when manifest.table_name = {{ session_backup.sql_string(table_name) }}
                then sessions.session_seq end) as own_applied_seq,
            max(sessions.session_seq) as any_applied_seq
        from {{ ref('backup_manifest') }} as manifest
        inner join {{ ref('backup_sessions') }} as sessions
            on manifest.session_id = sessions.session_id
        where manifest.table_name in ({{ declared | join(', ') }})
        group by sessions.scope
    ) as progress
        on progress.scope = claimed.scope
    where claimed.session_seq > coalesce(progress.own_applied_seq, progress.any_applied_seq, 0)
{% endmacro %}
