-- Partition-pruning pattern. dbt-bigquery 1.12 only DECLAREs the max-partition variable where it
-- builds a table (CTAS / temp table), so a merge model needs on_schema_change != 'ignore' for it.
{{ config(materialized='incremental', unique_key='row_key', on_schema_change='append_new_columns',
          partition_by={'field': 'closed_date', 'data_type': 'date'}) }}
select session_id, row_key, closed_date, amount from {{ ref('src_rows') }}
where not is_deleted
{% if is_incremental() %}
  and closed_date >= _dbt_max_partition
{% endif %}
