{#- Cold History on BigQuery, the parts macros/cold/cold_history_bigquery.sql does not cover:
    checking an export before History rows are deleted, and loading files back. Each macro
    returns one statement for `dbt compile --inline`. `session-backup tier | rehydrate` on
    BigQuery run the same steps from Python (src/session_backup/cold/tier_bigquery.py,
    rehydrate_bigquery.py): export to a staging prefix, read back through load jobs into a
    scratch table, compare row count + checksum with the hot rows, place the verified bytes
    with if_generation_match=0, then one transaction activates the manifest rows and DELETEs
    whole closed days from History. What the emulator runs: docs/bigquery.md. -#}


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
