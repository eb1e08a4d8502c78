{% materialization backup_head, default %}
    {#- Head keeps one current version per (scope, key). It is never rebuilt, not even by
        --full-refresh: it holds every version that has not closed yet. Each run merges the
        model's change rows and records the batch in the manifest, atomically. -#}
    {%- set table_name = config.require('backup_table') -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- set identity = session_backup.head_identity(table, columns) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set change_columns = get_column_schema_from_query(sql) -%}
    {%- set head_columns = change_columns | rejectattr('name', 'equalto', 'backup_change') | list -%}

    {{ run_hooks(pre_hooks) }}

    {%- if existing is none -%}
        {%- call statement('create_head') -%}
            {{ create_table_as(false, target_relation,
                'select ' ~ session_backup._quoted_names(head_columns) ~ ' from (' ~ sql ~ ') as changes where 1 = 0') }}
        {%- endcall -%}
    {%- else -%}
        {#- A column added to landing mid-stream joins Head as NULL for older rows. -#}
        {%- set present = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
        {%- set missing = head_columns | rejectattr('name', 'in', present) | list -%}
        {%- if missing -%}
            {% do alter_relation_add_remove_columns(target_relation, missing, none) %}
        {%- endif -%}
    {%- endif -%}

    {%- set head_statements = session_backup.head_apply_sql(target_relation, sql, head_columns, identity) -%}
    {%- set manifest_sql = session_backup.manifest_insert_sql(table_name, ref('changes_' ~ table_name)) -%}
    {%- do session_backup.run_atomically(head_statements + [manifest_sql]) -%}

    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro _quoted_names(columns) %}
    {%- set names = [] -%}
    {%- for column in columns -%}{%- do names.append(adapter.quote(column.name)) -%}{%- endfor -%}
    {{ return(names | join(', ')) }}
{% endmacro %}


{% macro head_apply_sql(target_relation, changes_sql, head_columns, identity) %}
    {#- The statements that apply a batch's upserts and deletes to Head. -#}
    {{ return(adapter.dispatch('head_apply_sql', 'session_backup')(target_relation, changes_sql, head_columns, identity)) }}
{% endmacro %}


{% macro default__head_apply_sql(target_relation, changes_sql, head_columns, identity) %}
    {{ return([session_backup.head_merge_sql(target_relation, changes_sql, head_columns, identity)]) }}
{% endmacro %}


{% macro duckdb__head_apply_sql(target_relation, changes_sql, head_columns, identity) %}
    {#- Not MERGE ... UPDATE: DuckDB (2.0) skips an update whose new value compares equal, so a
        -0.0 would never become 0.0 (and vice versa). Delete + insert writes the new value. -#}
    {%- set names = [] -%}
    {%- for column in head_columns -%}{%- do names.append(adapter.quote(column.name)) -%}{%- endfor -%}
    {%- set delete_sql -%}
    delete from {{ target_relation }} as head
    using ({{ changes_sql }}) as changes
    where head.backup_scope = changes.backup_scope
        {%- for name in identity %}
        and head.{{ name }} = changes.{{ name }}
        {%- endfor %}
    {%- endset -%}
    {%- set insert_sql -%}
    insert into {{ target_relation }} ({{ names | join(', ') }})
    select {{ names | join(', ') }}
    from ({{ changes_sql }}) as changes
    where changes.backup_change = 'upsert'
    {%- endset -%}
    {{ return([delete_sql, insert_sql]) }}
{% endmacro %}


{% macro head_merge_sql(target_relation, changes_sql, head_columns, identity) %}
    {%- set names = [] -%}
    {%- for column in head_columns -%}{%- do names.append(adapter.quote(column.name)) -%}{%- endfor -%}
    merge into {{ target_relation }} as head
    using ({{ changes_sql }}) as changes
        on head.backup_scope = changes.backup_scope
        {%- for name in identity %}
        and head.{{ name }} = changes.{{ name }}
        {%- endfor %}
    when matched and changes.backup_change = 'delete' then delete
    when matched then update set
        {%- for name in names if name not in identity and name != 'backup_scope' %}
        {{ name }} = changes.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    when not matched and changes.backup_change = 'upsert' then
        insert ({{ names | join(', ') }})
        values ({% for name in names %}changes.{{ name }}{% if not loop.last %}, {% endif %}{% endfor %})
{% endmacro %}


{% macro manifest_insert_sql(table_name, changes_relation=none) %}
    {#- The batch's manifest rows: landing count + checksum per session and, for History
        tables, how many versions each session closed and their checksum (so a later test can
        prove History was only ever appended to). -#}
    insert into {{ ref('backup_manifest') }}
        (session_id, table_name, row_count, checksum_low, checksum_high,
         closed_versions, closed_checksum_low, closed_checksum_high, hash_version, backed_up_at)
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
        {{ session_backup.sql_string(var('hash_version')) }},
        current_timestamp
    from {{ ref('checksums_' ~ table_name) }} as checksums
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
