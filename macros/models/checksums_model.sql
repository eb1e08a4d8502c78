{% macro checksums_model(table_name) %}
    {#- Row count and order-independent checksum of each pending session's landing content,
        computed at backup time (keyed History tables take them in changes_<t> instead, see
        session_checksums); `verify` recomputes them from the backup and compares.
        The last `recheck_recent_sessions` backed-up sessions of each scope the run backs up that
        are still in landing are checksummed again: if landing now holds different content for them, the post-hook
        refuses the batch instead of letting two versions of one session exist. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
with

pending_sessions as (
    {{ session_backup.pending_sessions(table_name) }}
),

recent_backed_up_sessions as (
    {{ session_backup.recheck_sessions(table_name) }}
),

checked_sessions as (
    select session_id, backup_scope, session_seq, false as is_recheck from pending_sessions
    union all
    select session_id, backup_scope, session_seq, true as is_recheck from recent_backed_up_sessions
),

hashed_rows as (
    select
        landing.session_id,
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join checked_sessions
        on landing.session_id = checked_sessions.session_id
    {{ session_backup.landing_batch_filter(table_name, 'landing', with_rechecks=true) }}
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
    checked_sessions.session_id,
    checked_sessions.backup_scope,
    checked_sessions.session_seq,
    checked_sessions.is_recheck,
    coalesce(session_checksums.row_count, 0) as row_count,
    coalesce(session_checksums.checksum_low, 0) as checksum_low,
    coalesce(session_checksums.checksum_high, 0) as checksum_high,
    {#- Which dbt invocation computed the row: backup_commit only commits its own run's. #}
    {{ session_backup.sql_string(invocation_id) }} as backup_invocation_id
from checked_sessions
left join session_checksums
    on checked_sessions.session_id = session_checksums.session_id
    {%- endif -%}
{% endmacro %}


{% macro recheck_sessions(table_name) %}
    {#- The last `recheck_recent_sessions` backed-up sessions of each scope this run backs up
        that landing still holds: their landing content is checksummed again and must equal what
        the manifest recorded. A scope without pending sessions is re-checked by its next run
        (its latest sessions stay the same until then), so a run reads nothing of the scopes it
        does not touch. -#}
    select
        claimed.session_id,
        claimed.scope as backup_scope,
        claimed.session_seq
    from {{ ref('backup_sessions') }} as claimed
    inner join {{ ref('backup_manifest') }} as manifest
        on manifest.session_id = claimed.session_id
        and manifest.table_name = {{ session_backup.sql_string(table_name) }}
    inner join (
        select sessions.scope, max(sessions.session_seq) as last_seq
        from {{ ref('backup_manifest') }} as manifest
        inner join {{ ref('backup_sessions') }} as sessions
            on manifest.session_id = sessions.session_id
        where manifest.table_name = {{ session_backup.sql_string(table_name) }}
        group by sessions.scope
    ) as progress
        on progress.scope = claimed.scope
    where claimed.session_seq > progress.last_seq - {{ session_backup.setting('recheck_recent_sessions') | int }}
        and claimed.scope in (select backup_scope from ({{ session_backup.pending_sessions(table_name) }}) as pending)
        and exists (
            select 1 from {{ session_backup.landing_source('sessions') }} as landed
            where landed.session_id = claimed.session_id
        )
{% endmacro %}
