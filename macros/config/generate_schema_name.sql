{% macro generate_schema_name(custom_schema_name, node) %}
    {#- The backup lives in the target schema (DuckDB) / dataset (BigQuery) itself; per-run working
        tables go to `<target schema>_staging`. No `<target>_<custom>` surprises. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{% endmacro %}
