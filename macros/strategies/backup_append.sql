{% materialization backup_append, default %}
    {#- The stored table of the full, incremental and differential strategies: append-only.
        Each run appends the model's rows (the batch's copies or change rows) and records the
        batch in the manifest in one transaction, as backup_commit does for history tables.
        It is never rebuilt, not even by --full-refresh: it is the backup itself. -#}
    {%- set table_name = config.require('backup_table') -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set model_columns = get_column_schema_from_query(sql) -%}

    {{ run_hooks(pre_hooks) }}

    {%- if existing is none -%}
        {%- call statement('create_store') -%}
            {{ create_table_as(false, target_relation,
                'select * from (' ~ sql ~ ') as batch_rows where 1 = 0') }}
        {%- endcall -%}
    {%- else -%}
        {#- A column added to landing mid-stream joins the store as NULL for older sessions. -#}
        {%- do session_backup.add_missing_columns(existing, model_columns) -%}
    {%- endif -%}

    {%- set names = session_backup._quoted_names(model_columns) -%}
    {%- set insert_sql -%}
        insert into {{ target_relation }} ({{ names }})
        select {{ names }} from ({{ sql }}) as batch_rows
    {%- endset -%}
    {%- do session_backup.run_atomically([
        insert_sql,
        session_backup.manifest_insert_sql(table_name),
        session_backup.layout_insert_sql(table_name),
    ]) -%}

    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
