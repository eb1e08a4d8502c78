{% macro restore_select_for_strategy(table, session_parameter) %}
    {#- The restore query of the classic strategies (full, incremental, differential, snapshot);
        empty while the table has nothing to restore from. Same contract as the history restore:
        the landing columns in landing order, every duplicate, and an error (not an empty
        table) for a session this table has no backup of. -#}
    {{ return(adapter.dispatch('restore_select_for_strategy', 'session_backup')(table, session_parameter)) }}
{% endmacro %}


{% macro default__restore_select_for_strategy(table, session_parameter) %}
    {{ exceptions.raise_compiler_error("restore_select_for_strategy is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}


{% macro duckdb__restore_select_for_strategy(table, session_parameter) %}
    {#- The SQL is shared; the engine-specific pieces (row repetition, integer division, the
        function wrapper) are dispatched where they are used. -#}
    {{ return(session_backup._restore_select_for_strategy(table, session_parameter)) }}
{% endmacro %}


{% macro bigquery__restore_select_for_strategy(table, session_parameter) %}
    {#- Same SQL on BigQuery: only standard joins, GROUP BY and ANY_VALUE over rows whose values
        are identical by construction (one content identity). -#}
    {{ return(session_backup._restore_select_for_strategy(table, session_parameter)) }}
{% endmacro %}


{% macro _restore_select_for_strategy(table, session_parameter) %}
    {%- set store_name = table.strategy ~ '_' ~ table.name -%}
    {%- set store = session_backup.existing_backup_relation(store_name) -%}
    {%- if store is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns_with_session_id = session_backup.restore_columns(table.name) -%}
    {%- if table.strategy == 'full' -%}
        {{ return(session_backup._restore_full_select(table, store, columns_with_session_id, session_parameter)) }}
    {%- elif table.strategy in ['incremental', 'differential'] -%}
        {{ return(session_backup._restore_change_log_select(table, store, columns_with_session_id, session_parameter)) }}
    {%- elif table.strategy == 'snapshot' -%}
        {{ return(session_backup._restore_snapshot_select(table, store, columns_with_session_id, session_parameter)) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("No restore for strategy '" ~ table.strategy ~ "' of table '" ~ table.name ~ "'.") }}
{% endmacro %}


{% macro _requested_session(table, session_parameter) %}
    {#- The requested session, only if the manifest says this table holds it. -#}
    {%- set sessions = session_backup.existing_backup_relation('backup_sessions') -%}
    {%- set manifest = session_backup.existing_backup_relation('backup_manifest') -%}
    select
        sessions.scope,
        sessions.session_seq,
        manifest.backed_up_at
    from {{ sessions }} as sessions
    inner join {{ manifest }} as manifest
        on manifest.session_id = sessions.session_id
        and manifest.table_name = {{ session_backup.sql_string(table.name) }}
    where sessions.session_id = {{ session_parameter }}
{% endmacro %}


{% macro _restore_full_select(table, store, columns_with_session_id, session_parameter) %}
with

requested as (
    {{ session_backup._requested_session(table, session_parameter) }}
),

restored_rows as (
    select
        {%- for column in columns_with_session_id %}
        copies.{{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ store }} as copies
    where copies.session_id = {{ session_parameter }}
        and exists (select 1 from requested)
)

select * from restored_rows
union all
{{ session_backup.fail_unless_backed_up(table, columns_with_session_id, session_parameter) }}
{% endmacro %}


{% macro _restore_change_log_select(table, store, columns_with_session_id, session_parameter) %}
    {#- Checkpoint multiset + the net of the changes to apply, matched on content identity:
        incremental applies every session after the checkpoint up to the requested one (a
        replay whose cost grows with the distance), differential only the requested one. -#}
    {%- set value_columns = columns_with_session_id | rejectattr('name', 'equalto', 'session_id') | list -%}
    {%- set identity = ['backup_row_hash', 'backup_row_check_hash'] -%}
with

requested as (
    select
        requested_session.scope,
        requested_session.session_seq,
        marker.backup_checkpoint_seq
    from ({{ session_backup._requested_session(table, session_parameter) }}) as requested_session
    inner join {{ store }} as marker
        on marker.backup_scope = requested_session.scope
        and marker.session_seq = requested_session.session_seq
        and marker.backup_row_count = 0
),

checkpoint_rows as (
    select stored.*
    from {{ store }} as stored
    inner join requested
        on stored.backup_scope = requested.scope
        and stored.backup_checkpoint_seq = requested.backup_checkpoint_seq
        and stored.session_seq = requested.backup_checkpoint_seq
    where stored.backup_row_count > 0
),

change_rows as (
    select stored.*
    from {{ store }} as stored
    inner join requested
        on stored.backup_scope = requested.scope
        and stored.backup_checkpoint_seq = requested.backup_checkpoint_seq
        and stored.session_seq > requested.backup_checkpoint_seq
        {%- if table.strategy == 'incremental' %}
        and stored.session_seq <= requested.session_seq
        {%- else %}
        and stored.session_seq = requested.session_seq
        {%- endif %}
    where stored.backup_row_count <> 0
),

net_changes as (
    select
        backup_row_hash,
        backup_row_check_hash,
        cast(sum(backup_row_count) as {{ dbt.type_bigint() }}) as backup_row_count
    from change_rows
    group by backup_row_hash, backup_row_check_hash
),

added_values as (
    {#- Every row of one identity holds the same values. -#}
    select
        backup_row_hash,
        backup_row_check_hash,
        {%- for column in value_columns %}
        any_value({{ session_backup.quote_name(column.name) }}) as {{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from change_rows
    where backup_row_count > 0
    group by backup_row_hash, backup_row_check_hash
),

restored_versions as (
    select
        {%- for column in value_columns %}
        checkpoint_rows.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        checkpoint_rows.backup_row_count + coalesce(net_changes.backup_row_count, 0) as backup_row_count
    from checkpoint_rows
    left join net_changes
        on checkpoint_rows.backup_row_hash = net_changes.backup_row_hash
        and checkpoint_rows.backup_row_check_hash = net_changes.backup_row_check_hash
    union all
    select
        {%- for column in value_columns %}
        added_values.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        net_changes.backup_row_count
    from net_changes
    inner join added_values
        on net_changes.backup_row_hash = added_values.backup_row_hash
        and net_changes.backup_row_check_hash = added_values.backup_row_check_hash
    where not exists (
        select 1
        from checkpoint_rows
        where checkpoint_rows.backup_row_hash = net_changes.backup_row_hash
            and checkpoint_rows.backup_row_check_hash = net_changes.backup_row_check_hash
    )
),

restored_rows as (
    select
        {%- for column in columns_with_session_id %}
        {%- if column.name | lower == 'session_id' %}
        cast({{ session_parameter }} as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- else %}
        versions.{{ session_backup.quote_name(column.name) }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (select * from restored_versions where backup_row_count > 0) as versions
    {{ session_backup.repeat_rows('versions.backup_row_count') }}
)

select * from restored_rows
union all
{{ session_backup.fail_unless_backed_up(table, columns_with_session_id, session_parameter) }}
{% endmacro %}


{% macro _restore_snapshot_select(table, store, columns_with_session_id, session_parameter) %}
    {#- The dbt snapshot baseline: the versions valid when the session's snapshot run recorded
        it (its manifest row is written in the same transaction as the snapshot merge, so
        `backed_up_at` falls between that run's snapshot time and the next run's). -#}
    {%- set value_columns = columns_with_session_id | rejectattr('name', 'equalto', 'session_id') | list -%}
with

requested as (
    {{ session_backup._requested_session(table, session_parameter) }}
),

valid_versions as (
    select
        {%- for column in value_columns %}
        versions.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        {%- if table.is_keyless %}
        versions.backup_row_count
        {%- else %}
        1 as backup_row_count
        {%- endif %}
    from {{ store }} as versions
    inner join requested
        on versions.backup_scope = requested.scope
        and versions.dbt_valid_from <= requested.backed_up_at
        and (versions.dbt_valid_to is null or versions.dbt_valid_to > requested.backed_up_at)
),

restored_rows as (
    select
        {%- for column in columns_with_session_id %}
        {%- if column.name | lower == 'session_id' %}
        cast({{ session_parameter }} as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- else %}
        versions.{{ session_backup.quote_name(column.name) }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from valid_versions as versions
    {%- if table.is_keyless %}
    {{ session_backup.repeat_rows('versions.backup_row_count') }}
    {%- endif %}
)

select * from restored_rows
union all
{{ session_backup.fail_unless_backed_up(table, columns_with_session_id, session_parameter) }}
{% endmacro %}
