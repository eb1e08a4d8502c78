{% macro full_model(table_name) %}
    {#- Strategy `full`: every pending session's landing rows, copied as they are (session_id
        included). Trivially exact; costs a whole copy per session. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set columns = session_backup.landing_columns(table_name, include_session_id=true) -%}
with

pending_sessions as (
    {#- The sessions the manifest rows of this run are taken from, so data and manifest agree. -#}
    select session_id from {{ session_backup.backup_ref('checksums', table_name) }}
    where not is_recheck
),

copied_rows as (
    select
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join pending_sessions
        on landing.session_id = pending_sessions.session_id
)

select * from copied_rows
    {%- endif -%}
{% endmacro %}
