{% test history_matches_manifest(model, table_name) %}
    -- depends_on: {{ ref('backup_manifest') }}
    {% if not execute %}
    select 1 as placeholder where 1 = 0
    {%- else %}
    {#- History is append-only: the versions closed at each session, recounted and re-hashed
        now, equal what the manifest recorded when that session was backed up. A deleted,
        added or edited History row fails this test. -#}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.restore_columns(table_name, include_session_id=false) -%}
    {#- Closings that retention pruned (`session-backup prune`) are no longer all there. -#}
    {%- set pruned_closings = session_backup.pruned_closing_sessions() -%}
    with
    closed_versions as (
        {%- for history in session_backup.history_sources(table) %}
        select backup_valid_to_session_id, {{ session_backup.row_hash(columns) }} as backup_row_hash
        from {{ history }}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ),
    recomputed as (
        select
            backup_valid_to_session_id as session_id,
            {{ session_backup.checksum_columns('backup_row_hash') }}
        from closed_versions
        {%- if pruned_closings %}
        where backup_valid_to_session_id not in ({{ pruned_closings }})
        {%- endif %}
        group by backup_valid_to_session_id
    ),
    recorded as (
        select session_id, closed_versions, closed_checksum_low, closed_checksum_high
        from {{ ref('backup_manifest') }}
        where table_name = {{ session_backup.sql_string(table_name) }}
            and closed_versions > 0
            {%- if pruned_closings %}
            and session_id not in ({{ pruned_closings }})
            {%- endif %}
    )
    select
        coalesce(recorded.session_id, recomputed.session_id) as session_id,
        recorded.closed_versions,
        recomputed.row_count as versions_now
    from recorded
    full outer join recomputed
        on recorded.session_id = recomputed.session_id
    where recorded.session_id is null
        or recomputed.session_id is null
        or recorded.closed_versions <> recomputed.row_count
        or recorded.closed_checksum_low <> recomputed.checksum_low
        or recorded.closed_checksum_high <> recomputed.checksum_high
    {%- endif %}
{% endtest %}
