{% test unique_combination(model, columns) %}
    {#- No two rows share these columns (a table is backed up once per session). -#}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
