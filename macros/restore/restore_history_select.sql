{% macro restore_history_select(table, columns_with_session_id, session_parameter, prune=none) %}
    {#- A table exactly as it was landed for one session, from Head + History in one set-based
        query: the versions valid at the session's position in its scope. No replay chain, so
        the cost does not grow with the number of sessions since. An unknown session, or one
        this table has no backup for, raises instead of returning an empty table.
        `prune` (optional, BigQuery's restore_<t>_pruned): {'scope': expr, 'closed_since': expr},
        the session's scope and a date on or before its start, passed as constants so that
        Head and History are read for that scope only (clustering) and History only from the
        partitions closed since (a version valid at the session closed on or after its start).
        A value that does not match the session raises instead of restoring too little. -#}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table.name) -%}
    {%- set history_sources = session_backup.history_sources(table) -%}
    {#- Looked up, not ref'd: this also runs from on-run-end, outside the DAG. -#}
    {%- set sessions = session_backup.existing_backup_relation('backup_sessions') -%}
    {%- set manifest = session_backup.existing_backup_relation('backup_manifest') -%}
    {%- set value_columns = columns_with_session_id | rejectattr('name', 'equalto', 'session_id') | list -%}
    {%- set projection -%}
        {%- for column in value_columns -%}versions.{{ session_backup.quote_name(column.name) }}{% if not loop.last %}, {% endif %}{%- endfor -%}
    {%- endset -%}
    {%- set extra = ', versions.backup_row_count' if table.is_keyless else '' -%}
with

requested as (
    select
        sessions.scope,
        sessions.session_seq
    from {{ sessions }} as sessions
    where sessions.session_id = {{ session_parameter }}
        and exists (
            select 1
            from {{ manifest }} as manifest
            where manifest.session_id = {{ session_parameter }}
                and manifest.table_name = {{ session_backup.sql_string(table.name) }}
        )
        {%- if prune %}
        and sessions.scope = {{ prune.scope }}
        and {{ prune.closed_since }} <= cast(sessions.started_at as date)
        {%- endif %}
),

valid_versions as (
    select {{ projection }}{{ extra }}
    from {{ head }} as versions
    inner join requested
        on versions.backup_scope = requested.scope
        and versions.backup_valid_from_seq <= requested.session_seq
    {%- if prune %}
    where versions.backup_scope = {{ prune.scope }}
    {%- endif %}
    {%- for history in history_sources %}
    union all
    select {{ projection }}{{ extra }}
    from {{ history }} as versions
    inner join requested
        on versions.backup_scope = requested.scope
        and versions.backup_valid_from_seq <= requested.session_seq
        and versions.backup_valid_to_seq > requested.session_seq
    {%- if prune %}
    where versions.backup_scope = {{ prune.scope }}
        and versions.backup_closed_date >= {{ prune.closed_since }}
    {%- endif %}
    {%- endfor %}
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


{% macro history_sources(table) %}
    {#- Where closed versions of a table live: the hot History table, plus cold Parquet once
        tiering has moved some of it (see session-backup tier). -#}
    {%- set sources = [session_backup.existing_backup_relation('history_' ~ table.name)] -%}
    {%- set cold = session_backup.existing_backup_relation('cold_history_' ~ table.name) -%}
    {%- if cold is not none -%}
        {%- do sources.append(cold) -%}
    {%- endif -%}
    {{ return(sources) }}
{% endmacro %}


{% macro fail_unless_backed_up(table, columns_with_session_id, session_parameter) %}
    {#- A branch that yields no row when the session has a backup of this table and raises
        otherwise; being a separate union branch, no optimizer can skip it. -#}
    {%- set message = "concat('session_backup: no backup of table " ~ table.name ~ " for session ', " ~ session_parameter ~ ")" -%}
    select
        {%- for column in columns_with_session_id %}
        {%- if loop.first %}
        cast(error({{ message }}) as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- else %}
        cast(null as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (select 1 as one) as single_row
    where not exists (select 1 from requested)
{% endmacro %}


{% macro repeat_rows(count_expression) %}
    {#- Expands a keyless version back into as many identical rows as the session had. -#}
    {{ return(adapter.dispatch('repeat_rows', 'session_backup')(count_expression)) }}
{% endmacro %}

{% macro duckdb__repeat_rows(count_expression) %}
    cross join range({{ count_expression }}) as copies
{% endmacro %}

{% macro bigquery__repeat_rows(count_expression) %}
    cross join unnest(generate_array(1, {{ count_expression }})) as copies
{% endmacro %}
