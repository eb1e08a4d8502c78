{% macro bigquery_add_columns(relation, add_columns) %}
    {#- Instead of dbt-bigquery's alter_relation_add_remove_columns, which adds columns through
        the tables.patch API (called by name, not by overriding dbt's macro: an installed
        package's override of a dbt macro is never dispatched to). Used when a landing column
        appears mid-stream: History and Head (backup_table) get it as NULL for older rows.
        - Top-level columns are added with one `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` DDL
          statement: valid BigQuery, one table-metadata update (BigQuery allows ~5 per 10 s per
          table), and safe to repeat.
        - The BigQuery API emulator applies such DDL to the data but not to its catalog
          (tables.get), and tables.patch the other way round; so a column the catalog still
          lacks afterwards is also added through the API. On BigQuery the catalog already shows
          it and nothing more happens.
        - Nested STRUCT fields cannot be added by DDL: they keep dbt-bigquery's API path.
        The backup never removes a column (a restore of an old session still needs it). -#}
    {%- set top_level = [] -%}
    {%- set nested = [] -%}
    {%- for column in add_columns -%}
        {%- do (nested if '.' in column.name else top_level).append(column) -%}
    {%- endfor -%}
    {%- if top_level -%}
        {%- set clauses = [] -%}
        {%- for column in top_level -%}
            {%- do clauses.append('add column if not exists ' ~ session_backup.quote_name(column.name) ~ ' ' ~ column.data_type) -%}
        {%- endfor -%}
        {%- do run_query('alter table ' ~ relation ~ ' ' ~ clauses | join(', ')) -%}
        {%- set in_catalog = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- for column in top_level if column.name | lower not in in_catalog -%}
            {%- do nested.append(column) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if nested -%}
        {%- do adapter.alter_table_add_remove_columns(relation, nested, none) -%}
    {%- endif -%}
{% endmacro %}
