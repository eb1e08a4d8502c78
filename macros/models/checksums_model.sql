{% macro checksums_model(table_name) %}
    {#- Row count and order-independent checksum of each pending session's landing content,
        computed at backup time; `verify` recomputes them from the backup and compares. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
with

pending_sessions as (
    {{ session_backup.pending_sessions(table_name) }}
),

hashed_rows as (
    select
        landing.session_id,
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
    from {{ source('landing', table_name) }} as landing
    inner join pending_sessions
        on landing.session_id = pending_sessions.session_id
),

session_checksums as (
    select
        session_id,
        {{ session_backup.checksum_columns('backup_row_hash') }}
    from hashed_rows
    group by session_id
)

{#- A session with no rows is a real, empty state and is recorded as such. -#}
select
    pending_sessions.session_id,
    pending_sessions.backup_scope,
    pending_sessions.session_seq,
    coalesce(session_checksums.row_count, 0) as row_count,
    coalesce(session_checksums.checksum_low, 0) as checksum_low,
    coalesce(session_checksums.checksum_high, 0) as checksum_high
from pending_sessions
left join session_checksums
    on pending_sessions.session_id = session_checksums.session_id
    {%- endif -%}
{% endmacro %}
