{{ config(materialized='incremental', incremental_strategy='append',
          enabled=var('custom_strategies') or var('probe_failures')) }}
select session_id, row_key, closed_date, amount from {{ ref('src_rows') }}
