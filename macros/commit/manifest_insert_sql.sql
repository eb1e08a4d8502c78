{% macro manifest_insert_sql(table_name, changes_relation=none) %}
    {#- The batch's manifest rows: landing count + checksum per session, the column layout it
        landed with (backup_layouts) and, for History tables, how many versions each session
        closed and their checksum (so a later test can prove History was only ever appended to). -#}
    {#- Hooks are rendered at parse time too (the snapshot baseline's post-hook), when no
        relation can be described; the models declare their inputs with depends_on. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set layout = session_backup.landing_layout(table_name) -%}
    insert into {{ ref('backup_manifest') }}
        (session_id, table_name, row_count, checksum_low, checksum_high,
         closed_versions, closed_checksum_low, closed_checksum_high, hash_version, layout_id,
         backed_up_at)
    select
        checksums.session_id,
        {{ session_backup.sql_string(table_name) }},
        checksums.row_count,
        checksums.checksum_low,
        checksums.checksum_high,
        {%- if changes_relation is not none %}
        coalesce(closed.row_count, 0),
        coalesce(closed.checksum_low, 0),
        coalesce(closed.checksum_high, 0),
        {%- else %}
        0, 0, 0,
        {%- endif %}
        {{ session_backup.sql_string(session_backup.setting('hash_version')) }},
        {{ session_backup.sql_string(layout.layout_id) }},
        current_timestamp
    from {{ session_backup.session_checksums(table_name) }} as checksums
    {%- if changes_relation is not none %}
    left join (
        select
            backup_valid_to_session_id as session_id,
            {{ session_backup.checksum_columns('backup_row_hash') }}
        from {{ changes_relation }}
        where change_kind = 'closed'
        group by backup_valid_to_session_id
    ) as closed
        on closed.session_id = checksums.session_id
    {%- endif %}
    where not checksums.is_recheck
{% endmacro %}
