{% materialization backup_commit, default %}
    {#- The run's one commit point. Every History and Head change and every manifest row of
        the run is written here in a single transaction, after every table's change detection
        and checks passed: a run that fails, is refused or is killed anywhere commits nothing,
        so what a backed-up session restores to never changes (docs/decisions/0003).
        The node's own table logs each commit: one row per table and run. -#}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}

    {{ run_hooks(pre_hooks) }}

    {%- if existing is none -%}
        {%- call statement('create_commit_log') -%}
            {{ create_table_as(false, target_relation, 'select * from (' ~ sql ~ ') as commit_rows where 1 = 0') }}
        {%- endcall -%}
        {%- do adapter.commit() -%}
    {%- endif -%}

    {%- set history_tables = session_backup.backup_tables() | selectattr('strategy', 'equalto', 'history') | map(attribute='name') | list -%}
    {%- do session_backup.assert_working_tables_are_current(history_tables) -%}
    {%- set statements = [] -%}
    {%- for table_name in history_tables -%}
        {%- do statements.extend(session_backup.commit_statements(table_name)) -%}
    {%- endfor -%}
    {%- do statements.append('insert into ' ~ target_relation ~ ' ' ~ sql) -%}
    {%- do session_backup.run_atomically(statements) -%}

    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro assert_working_tables_are_current(table_names) %}
    {#- The commit writes what the tables' working tables (changes_<t>, and checksums_<t> where
        it exists) hold; all must come from this invocation (a selection like
        `dbt run -s backup_commit` would otherwise commit an earlier run's working tables).
        One query for every table of the run. -#}
    {%- if table_names | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set query -%}
        select table_name from (
            {%- for table_name in table_names %}
            select {{ session_backup.sql_string(table_name) }} as table_name, backup_invocation_id
            from {{ session_backup.backup_ref('changes', table_name) }}
            {%- if not session_backup.folds_checksums(session_backup.backup_table_config(table_name)) %}
            union all
            select {{ session_backup.sql_string(table_name) }} as table_name, backup_invocation_id
            from {{ session_backup.backup_ref('checksums', table_name) }}
            {%- endif %}
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        ) as working_rows
        where backup_invocation_id <> {{ session_backup.sql_string(invocation_id) }}
        order by 1
        limit 1
    {%- endset -%}
    {%- set stale = run_query(query).columns[0].values() -%}
    {%- if stale | length > 0 -%}
        {{ exceptions.raise_compiler_error("session_backup refused: the working tables of table '" ~ stale[0]
            ~ "' come from an earlier dbt invocation; build the whole backup (`session-backup backup`"
            ~ " or `dbt build`), not the commit node alone. Nothing was written.") }}
    {%- endif -%}
{% endmacro %}
