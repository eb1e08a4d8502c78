{% macro raise_for_missing(columns_with_session_id, message_sql, condition_sql, from_sql='(select 1 as one) as single_row') %}
    {#- A union branch shaped like the landing table that raises `message_sql` for every row
        of `from_sql` where `condition_sql` holds and yields nothing otherwise; a separate
        branch, so no optimizer can skip the check. -#}
    select
        {%- for column in columns_with_session_id %}
        {%- if loop.first %}
        cast(error({{ message_sql }}) as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- else %}
        cast(null as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ from_sql }}
    where {{ condition_sql }}
{% endmacro %}
