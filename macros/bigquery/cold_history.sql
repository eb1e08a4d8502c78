{#- Cold History on BigQuery, the parts macros/cold/cold_history_bigquery.sql (tiering's export
    and cold view) does not cover: checking an export before History rows are deleted, and
    loading files back (rehydration). Each macro returns one statement, for the tiering code or
    `dbt compile --inline`. What the BigQuery API emulator runs of all this: docs/bigquery.md.

    A range of History rows moves like this on BigQuery:
      1. cold_export_sql: EXPORT DATA of the rows (predicate on alias `hot`) to a fresh prefix.
      2. bigquery_cold_checksum_sql over History and over the exported files (through the
         external table, or a scratch table loaded from them): equal row count and checksum.
      3. cold_history_view_sql: the external table + cold_history_<t> view, which
         restore_<t>() unions with History (macros/restore: history_sources).
      4. DELETE the range from History, whole backup_closed_date partitions only (a partition
         DELETE is metadata-only and leaves the other partitions' long-term pricing alone).
    Back: bigquery_cold_load_sql (LOAD DATA INTO History FROM FILES), then drop the files from
    the view. -#}


{% macro bigquery_cold_checksum_sql(relation, table_name, predicate_sql='true') %}
    {#- Row count + order-independent checksum of History rows (alias `hot`, any relation with
        History's columns: History itself, the external table, a loaded scratch table). The
        hash covers the values and the validity interval, so a file that lost, duplicated or
        shifted a version does not match. -#}
    {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    select {{ session_backup.checksum_columns('backup_row_hash') }}
    from (
        select
            {{ session_backup.row_hash(columns, 'hot') }}
            ^ farm_fingerprint(concat(hot.backup_scope, '|', cast(hot.backup_valid_from_seq as string), '|',
                cast(hot.backup_valid_to_seq as string)
                {%- if table.is_keyless %}, '|', cast(hot.backup_row_count as string){% endif %})) as backup_row_hash
        from {{ relation }} as hot
        where {{ predicate_sql }}
    ) as hashed
{% endmacro %}


{% macro bigquery_cold_load_sql(table_name, uris, into=none) %}
    {#- Rehydration: the files' rows appended to History (or to `into`, e.g. a scratch table to
        check first). LOAD DATA is a load job: free of bytes-scanned charges. -#}
    {%- set quoted = [] -%}
    {%- for uri in uris -%}{%- do quoted.append(session_backup.bigquery_string_literal(uri)) -%}{%- endfor -%}
    load data into {{ into or session_backup.existing_backup_relation('history_' ~ table_name) }}
    from files (
        format = 'PARQUET',
        uris = [{{ quoted | join(', ') }}]
    )
{% endmacro %}
