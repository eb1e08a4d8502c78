{#- on_schema_change: dbt-bigquery adds columns through the tables.patch API (client.update_table).
    bqemulator 1.4.0 records such a column in its catalog but not in the DuckDB table, so the next
    MERGE fails. ALTER TABLE ... ADD COLUMN IF NOT EXISTS works on both BigQuery and the emulator.
    var('sql_add_columns', true) = false restores dbt-bigquery's behaviour (for the probe). -#}
{% macro bigquery__alter_relation_add_remove_columns(relation, add_columns, remove_columns) %}
  {%- if not var('sql_add_columns', true) -%}
    {% do adapter.alter_table_add_remove_columns(relation, add_columns, remove_columns) %}
  {%- else -%}
    {%- for column in add_columns or [] -%}
      {% do run_query('alter table ' ~ relation ~ ' add column if not exists '
                      ~ adapter.quote(column.name) ~ ' ' ~ column.data_type) %}
    {%- endfor -%}
    {%- for column in remove_columns or [] -%}
      {% do run_query('alter table ' ~ relation ~ ' drop column if exists ' ~ adapter.quote(column.name)) %}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
