-- custom strategy: macros/get_incremental_head_history_sql.sql (needs macros/custom_strategy_override.sql)
{{ config(materialized='incremental', incremental_strategy='head_history', unique_key='row_key',
          enabled=var('custom_strategies') or var('probe_failures')) }}
select session_id, row_key, closed_date, amount, is_deleted from {{ ref('src_rows') }}
