{% macro diff_select(table, columns_with_session_id, from_parameter, to_parameter, prune=none) %}
    {#- What changed in a table from one session to another of the same scope (either order,
        any distance). Only versions valid at exactly one of the two sessions are read: those
        opened after the earlier session up to the later one, and those closed in that range
        that were valid at the earlier one. So the work grows with what changed between them,
        not with the table; a key that changed and changed back shows no difference.
        Keyed tables: change ('added' | 'removed' | 'changed'), row_key (struct of the key columns),
        changed_columns (names), old_values and new_values (structs of the other columns,
        NULL on the side where the key is absent).
        Keyless tables: change ('added' | 'removed' | 'changed'), row_values (struct of the
        row), old_count and new_count (how many times the row was in each session).
        Raises unless both sessions are backed-up sessions of one scope for this table.
        `prune` (BigQuery's diff_<t>_pruned): {'scope': expr, 'closed_since': expr}, the scope and
        a date on or before the earlier session's start, as constants: Head and History are read
        for that scope only, History only from the partitions closed since (every version valid
        at exactly one of the sessions closed on or after the earlier one started). Values that
        do not match the sessions raise. -#}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table.name) -%}
    {%- set value_columns = columns_with_session_id | rejectattr('name', 'equalto', 'session_id') | list -%}
    {%- set key_names = table.key | map('lower') | list -%}
    {%- set key_columns = [] -%}
    {%- set other_columns = [] -%}
    {%- for column in value_columns -%}
        {%- if column.name | lower in key_names -%}
            {%- do key_columns.append(column) -%}
        {%- else -%}
            {%- do other_columns.append(column) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set projection -%}
        {%- for column in value_columns -%}versions.{{ session_backup.quote_name(column.name) }}, {% endfor -%}
        {%- if table.is_keyless %}versions.backup_row_count, {% endif -%}
    {%- endset -%}
    {%- set message = "concat('session_backup: sessions ', " ~ from_parameter ~ ", ' and ', " ~ to_parameter
        ~ ", ' are not two backed-up sessions of one scope for table " ~ table.name
        ~ (" (or the scope / date given do not match them)'" if prune else "'") ~ ")" -%}
with

backed_up as (
    {{ session_backup.backed_up_sessions(table) }}
),

found as (
    select
        from_session.scope,
        from_session.session_seq as from_seq,
        to_session.session_seq as to_seq
    from backed_up as from_session
    inner join backed_up as to_session
        on to_session.scope = from_session.scope
    where from_session.session_id = {{ from_parameter }}
        and to_session.session_id = {{ to_parameter }}
        {%- if prune %}
        and from_session.scope = {{ prune.scope }}
        and {{ prune.closed_since }} <= cast(least(from_session.started_at, to_session.started_at) as date)
        {%- endif %}
),

endpoints as (
    {#- Always one row: it raises when the sessions do not qualify (an empty diff would lie). #}
    select
        case when found.scope is null then cast(error({{ message }}) as {{ dbt.type_string() }}) else found.scope end as scope,
        found.from_seq,
        least(found.from_seq, found.to_seq) as lower_seq,
        greatest(found.from_seq, found.to_seq) as upper_seq
    from (select 1 as one) as single_row
    left join found on true
),

changed_versions as (
    {#- Head versions are valid from their session on: valid at exactly one end iff opened
        after the earlier session and no later than the later one. #}
    select
        {{ projection }}
        versions.backup_valid_from_seq <= endpoints.from_seq as backup_is_valid_at_from
    from {{ head }} as versions
    inner join endpoints
        on versions.backup_scope = endpoints.scope
        and versions.backup_valid_from_seq > endpoints.lower_seq
        and versions.backup_valid_from_seq <= endpoints.upper_seq
    {%- if prune %}
    where versions.backup_scope = {{ prune.scope }}
    {%- endif %}
    {%- for history in session_backup.history_sources(table) %}
    union all
    select
        {{ projection }}
        (versions.backup_valid_from_seq <= endpoints.from_seq and versions.backup_valid_to_seq > endpoints.from_seq) as backup_is_valid_at_from
    from {{ history }} as versions
    inner join endpoints
        on versions.backup_scope = endpoints.scope
        and (
            (versions.backup_valid_from_seq <= endpoints.lower_seq
                and versions.backup_valid_to_seq > endpoints.lower_seq
                and versions.backup_valid_to_seq <= endpoints.upper_seq)
            or (versions.backup_valid_from_seq > endpoints.lower_seq
                and versions.backup_valid_from_seq <= endpoints.upper_seq
                and versions.backup_valid_to_seq > endpoints.upper_seq)
        )
    {%- if prune %}
    where versions.backup_scope = {{ prune.scope }}
        and versions.backup_closed_date >= {{ prune.closed_since }}
    {%- endif %}
    {%- endfor %}
),

{% if table.is_keyless -%}
identified_versions as (
    select
        {{ session_backup.row_hash(value_columns, 'versions') }} as backup_row_hash,
        {{ session_backup.row_check_hash(value_columns, 'versions') }} as backup_row_check_hash,
        versions.*
    from changed_versions as versions
),

counted_rows as (
    {#- Every version of one content identity holds the same values. #}
    select
        {%- for column in value_columns %}
        any_value({{ session_backup.quote_name(column.name) }}) as {{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        sum(case when backup_is_valid_at_from then backup_row_count else 0 end) as old_count,
        sum(case when backup_is_valid_at_from then 0 else backup_row_count end) as new_count
    from identified_versions
    group by backup_row_hash, backup_row_check_hash
),

differences as (
    select
        case
            when counted_rows.old_count = 0 then 'added'
            when counted_rows.new_count = 0 then 'removed'
            else 'changed'
        end as change,
        {%- set row_fields = [] -%}
        {%- for column in value_columns -%}
            {%- do row_fields.append((column.name, 'counted_rows.' ~ session_backup.quote_name(column.name))) -%}
        {%- endfor %}
        {{ session_backup.pack_values(row_fields) }} as row_values,
        cast(counted_rows.old_count as {{ dbt.type_bigint() }}) as old_count,
        cast(counted_rows.new_count as {{ dbt.type_bigint() }}) as new_count
    from counted_rows
    where counted_rows.old_count <> counted_rows.new_count
)
{%- else -%}
old_versions as (
    select * from changed_versions where backup_is_valid_at_from
),

new_versions as (
    select * from changed_versions where not backup_is_valid_at_from
),

differences as (
    {%- set key_fields = [] -%}
    {%- for column in key_columns -%}
        {%- do key_fields.append((column.name, 'coalesce(old_versions.' ~ session_backup.quote_name(column.name) ~ ', new_versions.' ~ session_backup.quote_name(column.name) ~ ')')) -%}
    {%- endfor -%}
    {%- set old_fields = [] -%}
    {%- set new_fields = [] -%}
    {%- set differs = [] -%}
    {%- for column in other_columns -%}
        {%- do old_fields.append((column.name, 'old_versions.' ~ session_backup.quote_name(column.name))) -%}
        {%- do new_fields.append((column.name, 'new_versions.' ~ session_backup.quote_name(column.name))) -%}
        {%- do differs.append((column.name, session_backup.values_differ(column,
            'old_versions.' ~ session_backup.quote_name(column.name), 'new_versions.' ~ session_backup.quote_name(column.name)))) %}
    {%- endfor %}
    select
        case
            when old_versions.backup_is_valid_at_from is null then 'added'
            when new_versions.backup_is_valid_at_from is null then 'removed'
            else 'changed'
        end as change,
        {{ session_backup.pack_values(key_fields) }} as row_key,
        case
            when old_versions.backup_is_valid_at_from is not null and new_versions.backup_is_valid_at_from is not null
            then {{ session_backup.names_where(differs) }}
        end as changed_columns,
        case when old_versions.backup_is_valid_at_from is not null then {{ session_backup.pack_values(old_fields) if old_fields else 'null' }} end as old_values,
        case when new_versions.backup_is_valid_at_from is not null then {{ session_backup.pack_values(new_fields) if new_fields else 'null' }} end as new_values
    from old_versions
    full outer join new_versions
        on {% for column in key_columns %}old_versions.{{ session_backup.quote_name(column.name) }} = new_versions.{{ session_backup.quote_name(column.name) }}{% if not loop.last %}
        and {% endif %}{% endfor %}
    where old_versions.backup_is_valid_at_from is null
        or new_versions.backup_is_valid_at_from is null
        {%- for difference in differs %}
        or {{ difference[1] }}
        {%- endfor %}
)
{%- endif %}

select * from differences
{% endmacro %}
