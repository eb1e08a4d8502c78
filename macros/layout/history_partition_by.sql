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
    {{ return({'field': 'closed_date', 'data_type': 'date', 'granularity': 'day'}) }}
{% endmacro %}
