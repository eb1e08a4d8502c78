{% macro pruned_closing_sessions() %}
    {#- Sessions whose closed versions retention may have removed (`session-backup prune`):
        every session of a scope before the first session inside the latest retention window.
        Tests that recount History per closing session leave them out. Empty when prune never
        ran. -#}
    {%- set windows = session_backup.existing_backup_relation('backup_prune_windows') -%}
    {%- if windows is none -%}{{ return('') }}{%- endif -%}
    {%- set sql -%}
        select sessions.session_id
        from {{ session_backup.existing_backup_relation('backup_sessions') }} as sessions
        inner join (
            select scope, max(window_seq) as window_seq
            from {{ windows }}
            group by scope
        ) as pruned_windows
            on sessions.scope = pruned_windows.scope
        where sessions.session_seq < pruned_windows.window_seq
    {%- endset -%}
    {{ return(sql) }}
{% endmacro %}
