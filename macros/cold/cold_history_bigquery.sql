{#- BigQuery cold-storage statements for `dbt compile --inline`, as a dbt user would render them.
    `session-backup tier` on BigQuery (src/session_backup/cold/tier_bigquery.py) renders the
    same statements itself (cold/bigquery_sql.py: EXPORT DATA to a staging prefix, the
    external table and the view on the manifest's active files); see docs/cold-storage.md
    ("BigQuery"). test_bigquery.py parses these as BigQuery SQL. -#}

{% macro cold_export_sql(table_name, predicate_sql, uri_pattern) %}
    {#- Writes the History rows matching `predicate_sql` (alias `hot`) to Parquet under a
        journaled, fresh part prefix, e.g. gs://b/p/orders/scope=VN/closed_month=2024-01/part-00003-*.parquet -#}
    {{ return(adapter.dispatch('cold_export_sql', 'session_backup')(table_name, predicate_sql, uri_pattern)) }}
{% endmacro %}

{% macro default__cold_export_sql(table_name, predicate_sql, uri_pattern) %}
    {{ exceptions.raise_compiler_error("cold_export_sql is not implemented for adapter '" ~ target.type
        ~ "': DuckDB tiering writes Parquet from Python (session-backup tier).") }}
{% endmacro %}

{% macro bigquery__cold_export_sql(table_name, predicate_sql, uri_pattern) %}
    {#- EXPORT DATA writes at most 1 GB per file, hence the wildcard. It cannot create objects
        with if_generation_match=0, so the prefix must be new (the journal reserves it) and the
        files it wrote are listed afterwards to fill the manifest. The storage class comes from
        the bucket's default class (EXPORT DATA cannot set it). -#}
    export data options (
        uri = {{ session_backup.sql_string(uri_pattern) }},
        format = 'PARQUET',
        compression = 'ZSTD',
        overwrite = false
    ) as
    select *
    from {{ session_backup.existing_backup_relation('history_' ~ table_name) }} as hot
    where {{ predicate_sql }}
    order by hot.backup_valid_to_seq, hot.backup_valid_from_seq
{% endmacro %}


{% macro cold_history_view_sql(table_name, cold_root_uri) %}
    {#- The relation `history_sources()` unions into every restore: cold_history_<table>. -#}
    {{ return(adapter.dispatch('cold_history_view_sql', 'session_backup')(table_name, cold_root_uri)) }}
{% endmacro %}

{% macro default__cold_history_view_sql(table_name, cold_root_uri) %}
    {{ exceptions.raise_compiler_error("cold_history_view_sql is not implemented for adapter '" ~ target.type
        ~ "': on DuckDB session-backup tier creates the view itself (read_parquet over the manifest's files).") }}
{% endmacro %}

{% macro bigquery__cold_history_view_sql(table_name, cold_root_uri) %}
    {#- An external table over every object of the table's prefix, and a view that keeps only
        the files the cold manifest lists as active (_FILE_NAME): the manifest stays the one
        commit point, as on DuckDB, so objects of an interrupted run or released by rehydrate
        are never read. Open question (untested): BigQuery infers one schema for the external
        table, so files written before a column was added to History need that column filled
        (re-export, or one external table per schema version unioned here). Restores read GCS
        directly: no local cache, but cold-class retrieval fees. -#}
    {%- set history = session_backup.existing_backup_relation('history_' ~ table_name) -%}
    {%- set dataset = '`' ~ target.database ~ '`.`' ~ target.schema ~ '`' -%}
    {%- set external = dataset ~ '.`cold_files_' ~ table_name ~ '`' -%}
    {%- set columns = adapter.get_columns_in_relation(history) -%}
    create or replace external table {{ external }}
    options (
        format = 'PARQUET',
        uris = [{{ session_backup.sql_string(cold_root_uri.rstrip('/') ~ '/' ~ table_name ~ '/*') }}]
    );
    create or replace view {{ dataset }}.`cold_history_{{ table_name }}` as
    select
        {%- for column in columns %}
        cast(cold.{{ session_backup.quote_name(column.name) }} as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ external }} as cold
    where cold._FILE_NAME in (
        select file_uri
        from {{ dataset }}.`cold_manifest`
        where table_name = {{ session_backup.sql_string(table_name) }}
            and state = 'active'
    )
{% endmacro %}
