{% macro snapshot_checksums_model(table_name) %}
    {#- Strategy `snapshot` (the dbt snapshot baseline) takes one session per run: the oldest
        pending one (lowest session_seq, then scope). Its row count and checksum, for the
        manifest row the snapshot's post-hook writes in the snapshot's own transaction. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
with

pending_sessions as (
    {{ session_backup.pending_sessions(table_name) }}
),

next_session as (
    select
        session_id,
        backup_scope,
        session_seq
    from pending_sessions
    order by session_seq, backup_scope
    limit 1
),

hashed_rows as (
    select
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join next_session
        on landing.session_id = next_session.session_id
),

session_checksum as (
    select
        {{ session_backup.checksum_columns('backup_row_hash') }}
    from hashed_rows
)

select
    next_session.session_id,
    next_session.backup_scope,
    next_session.session_seq,
    false as is_recheck,
    session_checksum.row_count,
    session_checksum.checksum_low,
    session_checksum.checksum_high
from next_session
cross join session_checksum
    {%- endif -%}
{% endmacro %}
