-- merge on unique_key, no schema change handling (no temp table is created by dbt-bigquery)
{{ config(materialized='incremental', unique_key='row_key',
          partition_by={'field': 'closed_date', 'data_type': 'date'}) }}
select session_id, row_key, closed_date, amount from {{ ref('src_rows') }} where not is_deleted
