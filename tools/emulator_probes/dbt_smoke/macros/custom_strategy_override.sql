{#- dbt-bigquery (1.12) only accepts 'merge', 'insert_overwrite' and 'microbatch' and never looks up
    get_incremental_<name>_sql. These two root-project macros take precedence over the adapter's
    ones of the same name and route any other strategy to get_incremental_<name>_sql. -#}
{% macro dbt_bigquery_validate_get_incremental_strategy(config) %}
  {%- set strategy = config.get('incremental_strategy') or 'merge' -%}
  {%- if strategy in ['merge', 'insert_overwrite', 'microbatch'] or not var('custom_strategies', true) -%}
    {{ return(dbt.dbt_bigquery_validate_get_incremental_strategy(config)) }}
  {%- endif -%}
  {%- if context.get('get_incremental_' ~ strategy ~ '_sql') is none -%}
    {% do exceptions.raise_compiler_error('No macro get_incremental_' ~ strategy ~ '_sql') %}
  {%- endif -%}
  {{ return(strategy) }}
{% endmacro %}

{% macro bq_generate_incremental_build_sql(strategy, tmp_relation, target_relation, sql, unique_key,
    partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates) %}
  {%- if strategy in ['merge', 'insert_overwrite', 'microbatch'] -%}
    {{ return(dbt.bq_generate_incremental_build_sql(strategy, tmp_relation, target_relation, sql,
        unique_key, partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions,
        incremental_predicates)) }}
  {%- endif -%}
  {#- dbt-bigquery only builds a temp table when on_schema_change != 'ignore': otherwise use a subquery -#}
  {%- set source = tmp_relation if tmp_relation_exists else '(' ~ sql ~ ')' -%}
  {%- set strategy_macro = context.get('get_incremental_' ~ strategy ~ '_sql') -%}
  {{ return(strategy_macro({'target_relation': target_relation, 'temp_relation': source,
      'unique_key': unique_key, 'dest_columns': dest_columns,
      'incremental_predicates': incremental_predicates})) }}
{% endmacro %}
