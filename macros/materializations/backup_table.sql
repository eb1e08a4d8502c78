{% materialization backup_table, default %}
    {#- Head and History are the backup itself: this node only makes sure the table exists and
        has every column the model selects (a landing column added mid-stream joins as NULL for
        older rows). It never rebuilds the table, not even under --full-refresh, and never
        writes rows: the backup_commit node writes every table of a run in one transaction, so a
        failed or killed run leaves nothing a restore could see. -#}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- do session_backup.assert_in_backup_schema(this) -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set model_columns = get_column_schema_from_query(sql) -%}

    {{ run_hooks(pre_hooks) }}

    {%- if existing is none -%}
        {%- do session_backup.assert_nothing_backed_up(config.require('backup_table'), this.identifier) -%}
        {%- call statement('main') -%}
            {{ create_table_as(false, target_relation,
                'select * from (' ~ sql ~ ') as model_rows where 1 = 0') }}
        {%- endcall -%}
    {%- else -%}
        {%- do session_backup.add_missing_columns(existing, model_columns) -%}
        {%- call statement('main') -%}select 1 as table_is_ready{%- endcall -%}
    {%- endif -%}
    {%- do adapter.commit() -%}

    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% macro add_missing_columns(relation, wanted_columns) %}
    {#- Adds the wanted columns the table lacks. Names compare case-insensitively, as both
        engines resolve them: "Mixed Case" and "mixed case" are one column. -#}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for column in wanted_columns if column.name | lower not in present -%}
        {%- do missing.append(column) -%}
    {%- endfor -%}
    {%- if missing -%}
        {%- do adapter.dispatch('add_columns', 'session_backup')(relation, missing) -%}
    {%- endif -%}
{% endmacro %}


{% macro default__add_columns(relation, columns) %}
    {#- dbt's own alter_relation_add_remove_columns pastes the name unquoted. -#}
    {%- for column in columns -%}
        {%- do run_query('alter table ' ~ relation ~ ' add column ' ~ session_backup.quote_name(column.name)
            ~ ' ' ~ column.data_type) -%}
    {%- endfor -%}
{% endmacro %}


{% macro bigquery__add_columns(relation, columns) %}
    {#- One DDL statement and the emulator's catalog fix-up: macros/bigquery/add_columns.sql. -#}
    {%- do session_backup.bigquery_add_columns(relation, columns) -%}
{% endmacro %}


{% macro _quoted_names(columns) %}
    {%- set names = [] -%}
    {%- for column in columns -%}{%- do names.append(session_backup.quote_name(column.name)) -%}{%- endfor -%}
    {{ return(names | join(', ')) }}
{% endmacro %}


{% macro assert_nothing_backed_up(table_name, identifier) %}
    {#- A missing Head or History table is only ever new: if the manifest already holds sessions
        of the table, the table was dropped or renamed outside the backup, and creating it empty
        would make those sessions restore without its rows. Stop instead. -#}
    {%- set manifest = session_backup.existing_backup_relation('backup_manifest') -%}
    {%- if manifest is none -%}{{ return('') }}{%- endif -%}
    {%- set query -%}
        select count(*) from {{ manifest }} where table_name = {{ session_backup.sql_string(table_name) }}
    {%- endset -%}
    {%- set backed_up = run_query(query).columns[0].values()[0] | int -%}
    {%- if backed_up > 0 -%}
        {{ exceptions.raise_compiler_error("Backup table " ~ identifier ~ " is missing, yet " ~ backed_up
            ~ " session(s) of table '" ~ table_name ~ "' are backed up in it: it was dropped or renamed outside"
            ~ " session_backup. Restore it (e.g. from BigQuery time travel or a copy of the backup file);"
            ~ " nothing was written.") }}
    {%- endif -%}
{% endmacro %}


{% macro assert_in_backup_schema(relation) %}
    {#- Restores, verify and tiering find Head and History in the backup's schema (the target's);
        a `+schema` that the installing project's folder configs apply to the generated models
        would build them elsewhere and split the backup. -#}
    {%- set backup_schema = generate_schema_name(none, none) | trim -%}
    {%- if relation.schema != backup_schema -%}
        {{ exceptions.raise_compiler_error(
            relation.identifier ~ " would be built in schema '" ~ relation.schema ~ "', but the backup lives in '"
            ~ backup_schema ~ "': remove the +schema config your dbt_project.yml applies to the generated "
            ~ "models' folder (var session_backup_folder).") }}
    {%- endif -%}
{% endmacro %}
