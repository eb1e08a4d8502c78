{% macro integer_divide(numerator, denominator) %}
    {#- Integer division rounding toward zero (both operands are non-negative where used). -#}
    {{ return(adapter.dispatch('integer_divide', 'session_backup')(numerator, denominator)) }}
{% endmacro %}

{% macro default__integer_divide(numerator, denominator) %}
    {{ exceptions.raise_compiler_error("integer_divide is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) %}
    {#- DuckDB's `/` returns a DOUBLE; `//` is integer division. -#}
    (({{ numerator }}) // ({{ denominator }}))
{% endmacro %}

{% macro bigquery__integer_divide(numerator, denominator) %}
    {#- BigQuery's `/` returns FLOAT64; DIV is integer division. -#}
    div({{ numerator }}, {{ denominator }})
{% endmacro %}
