{% macro values_differ(column, old_expression, new_expression) %}
    {#- True when two values of one column are not the same value. NULL equals NULL, NaN
        equals NaN, and -0.0 differs from 0.0 (the backup keeps the sign, so a diff shows it). -#}
    {{ return(adapter.dispatch('values_differ', 'session_backup')(column, old_expression, new_expression)) }}
{% endmacro %}

{% macro default__values_differ(column, old_expression, new_expression) %}
    {{ exceptions.raise_compiler_error("values_differ is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__values_differ(column, old_expression, new_expression) %}
    {#- DuckDB already treats NaN as equal to NaN; only the sign of zero needs signbit(). -#}
    {%- if session_backup.is_float_column(column) -%}
        (({{ old_expression }}) is distinct from ({{ new_expression }})
            or coalesce(signbit({{ old_expression }}) <> signbit({{ new_expression }}), false))
    {%- else -%}
        (({{ old_expression }}) is distinct from ({{ new_expression }}))
    {%- endif -%}
{% endmacro %}

{% macro bigquery__values_differ(column, old_expression, new_expression) %}
    {#- BigQuery: NaN compares unequal to itself, and IS DISTINCT FROM does not accept ARRAY or
        STRUCT; comparing the JSON text covers those, floats compare with NaN and sign rules. -#}
    {%- set data_type = column.dtype | lower -%}
    {%- if session_backup.is_float_column(column) -%}
        (coalesce(not (is_nan({{ old_expression }}) and is_nan({{ new_expression }})), true)
            and (({{ old_expression }}) is distinct from ({{ new_expression }})
                or coalesce(ieee_divide(1, {{ old_expression }}) <> ieee_divide(1, {{ new_expression }}), false)))
    {%- elif data_type.startswith('array') or data_type.startswith('struct') or data_type in ['json', 'geography'] -%}
        (to_json_string({{ old_expression }}) is distinct from to_json_string({{ new_expression }}))
    {%- else -%}
        (({{ old_expression }}) is distinct from ({{ new_expression }}))
    {%- endif -%}
{% endmacro %}
