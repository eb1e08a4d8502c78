{% macro commit_statements(table_name) %}
    {#- Everything one table writes in a run, in the order it runs inside the run's one
        transaction: refuse if another run committed these sessions meanwhile, append the closed
        versions to History, apply Head's upserts and deletions, then the manifest and layout
        rows that make the sessions count as backed up. -#}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- set history_names = session_backup.history_column_names(table, columns) -%}
    {%- set statements = [session_backup.not_committed_elsewhere_sql(table_name)] -%}
    {%- set history_insert -%}
    insert into {{ session_backup.backup_ref('history', table_name) }} ({{ history_names | join(', ') }})
    {{ session_backup.history_model(table_name) }}
    {%- endset -%}
    {%- do statements.append(history_insert) -%}
    {%- do statements.extend(session_backup.head_apply_sql(
        session_backup.backup_ref('head', table_name),
        session_backup.head_changes(table_name),
        session_backup.head_column_names(table, columns),
        session_backup.head_identity(table, columns))) -%}
    {%- do statements.append(session_backup.manifest_insert_sql(table_name, session_backup.backup_ref('changes', table_name))) -%}
    {%- do statements.append(session_backup.layout_insert_sql(table_name)) -%}
    {{ return(statements) }}
{% endmacro %}


{% macro not_committed_elsewhere_sql(table_name) %}
    {#- Two runs at once, or the commit node run again on its own over the working tables of an
        earlier run: the run whose sessions are already in the manifest fails inside the
        transaction, so it rolls back whole instead of writing them twice. -#}
    {%- set message = "session_backup refused: table " ~ table_name
        ~ " of this run was already committed by another run (nothing was written; run the backup again): session " -%}
    select {{ session_backup.raise_error_sql("concat(" ~ session_backup.sql_string(message) ~ ", checksums.session_id)") }} as already_committed
    from {{ session_backup.session_checksums(table_name) }} as checksums
    inner join {{ ref('backup_manifest') }} as manifest
        on manifest.session_id = checksums.session_id
        and manifest.table_name = {{ session_backup.sql_string(table_name) }}
    where not checksums.is_recheck
{% endmacro %}


{% macro raise_error_sql(message_expression) %}
    {#- An expression that fails the statement with the message when a row evaluates it. The
        message depends on the row, so no optimizer folds it into an unconditional error. -#}
    {{ return(adapter.dispatch('raise_error_sql', 'session_backup')(message_expression)) }}
{% endmacro %}

{% macro default__raise_error_sql(message_expression) %}
    {#- DuckDB's error() and BigQuery's ERROR() both abort the query with the message. -#}
    {{ return('error(' ~ message_expression ~ ')') }}
{% endmacro %}
