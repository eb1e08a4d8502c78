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

    {%- set statements = [] -%}
    {%- for table in session_backup.backup_tables() if table.strategy == 'history' -%}
        {%- do session_backup.assert_working_tables_are_current(table.name) -%}
        {%- do statements.extend(session_backup.commit_statements(table.name)) -%}
    {%- endfor -%}
    {%- do statements.append('insert into ' ~ target_relation ~ ' ' ~ sql) -%}
    {%- do session_backup.run_atomically(statements) -%}

    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro assert_working_tables_are_current(table_name) %}
    {#- The commit writes what changes_<t> and checksums_<t> hold; both must come from this
        invocation (a selection like `dbt run -s backup_commit` would otherwise commit an
        earlier run's working tables). -#}
    {%- set query -%}
        select count(*) from (
            select backup_invocation_id from {{ session_backup.backup_ref('checksums', table_name) }}
            union all
            select backup_invocation_id from {{ session_backup.backup_ref('changes', table_name) }}
        ) as working_rows
        where backup_invocation_id <> {{ session_backup.sql_string(invocation_id) }}
    {%- endset -%}
    {%- if run_query(query).columns[0].values()[0] | int > 0 -%}
        {{ exceptions.raise_compiler_error("session_backup refused: the working tables of table '" ~ table_name
            ~ "' come from an earlier dbt invocation; build the whole backup (`session-backup backup`"
            ~ " or `dbt build`), not the commit node alone. Nothing was written.") }}
    {%- endif -%}
{% endmacro %}
