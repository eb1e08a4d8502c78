{% macro history_partition_by() %}
    {#- History is partitioned by the date a version closed: a closed day is never written
        again, so BigQuery bills it as long-term storage after 90 days and cold tiering can
        move whole partitions. -#}
    {{ return(adapter.dispatch('history_partition_by', 'session_backup')()) }}
{% endmacro %}

{% macro default__history_partition_by() %}
    {#- DuckDB has no table partitions; append order already groups rows by close date. -#}
    {{ return(none) }}
{% endmacro %}

{% macro bigquery__history_partition_by() %}
    {#- Daily partitions on the DATE column itself (not DATE(timestamp)): a literal filter on it
        prunes, and 10,000 partitions hold 27 years. -#}
    {{ return({'field': 'backup_closed_date', 'data_type': 'date', 'granularity': 'day'}) }}
{% endmacro %}
