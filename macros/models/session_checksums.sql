{% macro folds_checksums(table) %}
    {#- Whether changes_<t> computes the checked sessions' landing counts and checksums (keyed
        History tables) instead of a node of its own, checksums_<t>: one read of landing and
        one dbt node fewer per table and run. -#}
    {{ return(table.strategy == 'history' and not table.is_keyless) }}
{% endmacro %}


{% macro session_checksums(table_name, relation=none) %}
    {#- This run's landing row count and checksum of each checked session of the table (pending
        and re-checked), one row each, as a relation to select from: checksums_<t>, or the
        checksum rows of changes_<t> for the tables whose change detection takes them. Columns:
        session_id, backup_scope, session_seq, is_recheck, row_count, checksum_low,
        checksum_high, backup_invocation_id. `relation`: the node's own table, for its hooks
        (a node cannot ref itself). -#}
    {#- Hooks are rendered at parse time too (the snapshot baseline's), when the declarations
        cannot be read: only the strategies with a checksums node have such hooks. -#}
    {%- set folds = execute and session_backup.folds_checksums(session_backup.backup_table_config(table_name)) -%}
    {%- if not folds -%}
        {{ return(relation or session_backup.backup_ref('checksums', table_name)) }}
    {%- endif -%}
    {%- set checksum_rows -%}
        (select
            backup_checksum_session_id as session_id,
            backup_checksum_scope as backup_scope,
            backup_checksum_session_seq as session_seq,
            backup_checksum_is_recheck as is_recheck,
            backup_checksum_row_count as row_count,
            backup_checksum_low as checksum_low,
            backup_checksum_high as checksum_high,
            backup_invocation_id
        from {{ relation or session_backup.backup_ref('changes', table_name) }}
        where backup_checksum_side = 1)
    {%- endset -%}
    {{ return(checksum_rows) }}
{% endmacro %}
