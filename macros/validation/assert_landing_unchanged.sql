{% macro assert_landing_unchanged(table_name) %}
    {#- Post-hook of the node that takes the table's checksums (checksums_<t>, or changes_<t>
        where it takes them): a backed-up session whose landing content changed since is
        refused, and the stored backup stays as it was. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set query -%}
        select
            rechecked.session_id,
            manifest.row_count,
            rechecked.row_count
        from {{ session_backup.session_checksums(table_name, this) }} as rechecked
        inner join {{ ref('backup_manifest') }} as manifest
            on manifest.session_id = rechecked.session_id
            and manifest.table_name = {{ session_backup.sql_string(table_name) }}
        where rechecked.is_recheck
            {# A checksum taken with another hash version cannot be compared. #}
            and manifest.hash_version = {{ session_backup.sql_string(session_backup.setting('hash_version')) }}
            and (manifest.row_count <> rechecked.row_count
                or manifest.checksum_low <> rechecked.checksum_low
                or manifest.checksum_high <> rechecked.checksum_high)
        order by 1
        limit 5
    {%- endset -%}
    {%- set changed = run_query(query) -%}
    {%- if changed.rows | length > 0 -%}
        {%- set lines = [] -%}
        {%- for row in changed.rows -%}
            {%- do lines.append("session '" ~ row[0] ~ "' (backed up with " ~ row[1] ~ " rows, landing now has "
                ~ row[2] ~ " rows" ~ (" with different content" if row[1] == row[2] else "") ~ ")") -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error("session_backup refused: Landing table '" ~ table_name ~ "' changed for already backed-up "
            ~ lines | join(', ') ~ ". The backup keeps what it stored and refuses the batch; land changed data "
            ~ "under a new session_id.") }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
