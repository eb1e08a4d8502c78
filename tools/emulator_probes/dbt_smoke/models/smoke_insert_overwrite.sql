{{ config(materialized='incremental', incremental_strategy='insert_overwrite',
          partition_by={'field': 'closed_date', 'data_type': 'date'},
          enabled=var('probe_failures')) }}
select session_id, row_key, closed_date, amount from {{ ref('src_rows') }} where not is_deleted
