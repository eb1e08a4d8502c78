{% macro head_apply_sql(head_relation, changes_sql, names, identity) %}
    {#- The statements that apply a batch's upserts and deletes (head_changes) to Head.
        `names` are Head's quoted column names, `identity` the quoted key of a row in a scope. -#}
    {{ return(adapter.dispatch('head_apply_sql', 'session_backup')(head_relation, changes_sql, names, identity)) }}
{% endmacro %}


{% macro default__head_apply_sql(head_relation, changes_sql, names, identity) %}
    {#- BigQuery bills a MERGE with UPDATE/DELETE clauses for its whole target, unless the ON
        condition filters the target with constants: Head is clustered by scope first, so the
        batch's scopes as a literal list make it bill (and lock) only the scopes it touches. -#}
    {%- set scopes = run_query('select distinct backup_scope from (' ~ changes_sql ~ ') as changes order by 1').columns[0].values() -%}
    {%- set literals = [] -%}
    {%- for scope in scopes -%}{%- do literals.append(session_backup.sql_string(scope)) -%}{%- endfor -%}
    {{ return([session_backup.head_merge_sql(head_relation, changes_sql, names, identity,
        'head.backup_scope in (' ~ literals | join(', ') ~ ')' if literals else 'false')]) }}
{% endmacro %}


{% macro duckdb__head_apply_sql(head_relation, changes_sql, names, identity) %}
    {#- Not MERGE ... UPDATE: DuckDB (2.0) skips an update whose new value compares equal, so a
        -0.0 would never become 0.0 (and vice versa). Delete + insert writes the new value. -#}
    {%- set delete_sql -%}
    delete from {{ head_relation }} as head
    using ({{ changes_sql }}) as changes
    where head.backup_scope = changes.backup_scope
        {%- for name in identity %}
        and head.{{ name }} = changes.{{ name }}
        {%- endfor %}
    {%- endset -%}
    {%- set insert_sql -%}
    insert into {{ head_relation }} ({{ names | join(', ') }})
    select {{ names | join(', ') }}
    from ({{ changes_sql }}) as changes
    where changes.backup_change = 'upsert'
    {%- endset -%}
    {{ return([delete_sql, insert_sql]) }}
{% endmacro %}


{% macro head_merge_sql(head_relation, changes_sql, names, identity, target_filter='true') %}
    merge into {{ head_relation }} as head
    using ({{ changes_sql }}) as changes
        on head.backup_scope = changes.backup_scope
        and {{ target_filter }}
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
