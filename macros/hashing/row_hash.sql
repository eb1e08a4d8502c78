{% macro row_hash(columns, relation_alias=none) %}
    {#- 64-bit content hash of a row, built column by column so that:
        - a NULL column contributes nothing (adding an all-NULL column keeps every old hash);
        - each value is hashed with its column name (no separators, so no separator collisions,
          and swapping values between columns changes the hash);
        - NULL, '' and 'NULL' all differ (NULL is skipped, the others are hashed as values).
        Versions of one key are compared with it; see docs/decisions/0002-content-hash.md. -#}
    {{ return(adapter.dispatch('row_hash', 'session_backup')(columns, relation_alias)) }}
{% endmacro %}


{% macro default__row_hash(columns, relation_alias) %}
    {{ exceptions.raise_compiler_error("row_hash is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}


{% macro duckdb__row_hash(columns, relation_alias) %}
    {#- DuckDB's hash() is fast (0.4 s per 10M rows) and typed; xor keeps it order-free and
        overflow-free. Each term re-hashes (value hash xor name hash): DuckDB combines the
        arguments of hash(a, b) linearly, so xor of hash(name, value) terms would not notice
        two columns swapping values. Floats also hash their sign bit: hash(-0.0) = hash(0.0). -#}
    {%- set terms = [] -%}
    {%- for column in columns -%}
        {%- set ref = session_backup._column_ref(column.name, relation_alias) -%}
        {%- set name = session_backup.sql_string(column.name | lower) -%}
        {%- if session_backup.is_float_column(column) -%}
            {#- NaN is one value (docs/decisions/0004-floats-through-cold.md): its sign bit is not hashed. -#}
            {%- set value_hash = "hash(" ~ ref ~ ", signbit(" ~ ref ~ ") and not isnan(" ~ ref ~ "))" -%}
        {%- else -%}
            {%- set value_hash = "hash(" ~ ref ~ ")" -%}
        {%- endif -%}
        {%- set value = "hash(xor(" ~ value_hash ~ ", hash(" ~ name ~ ")))" -%}
        {%- do terms.append("case when " ~ ref ~ " is null then 0::ubigint else " ~ value ~ " end") -%}
    {%- endfor -%}
    {{ return(session_backup._fold_xor(terms, 'xor(', ', ', ')')) }}
{% endmacro %}


{% macro bigquery__row_hash(columns, relation_alias) %}
    {#- FARM_FINGERPRINT over the JSON of a one-field struct: JSON escaping makes values
        unambiguous and the field name salts the value. Floats add their sign bit. -#}
    {%- set terms = [] -%}
    {%- for column in columns -%}
        {%- set ref = session_backup._column_ref(column.name, relation_alias) -%}
        {%- set payload = "to_json_string(struct(" ~ ref ~ " as " ~ session_backup.quote_name(column.name | lower) ~ "))" -%}
        {%- if session_backup.is_float_column(column) -%}
            {%- set payload = "concat(" ~ payload ~ ", if(" ~ ref ~ " = 0 and ieee_divide(1, " ~ ref ~ ") < 0, '-', ''))" -%}
        {%- endif -%}
        {%- do terms.append("if(" ~ ref ~ " is null, 0, farm_fingerprint(" ~ payload ~ "))") -%}
    {%- endfor -%}
    {{ return(session_backup._fold_xor(terms, '(', ' ^ ', ')')) }}
{% endmacro %}


{% macro _column_ref(column_name, relation_alias) %}
    {%- set quoted = session_backup.quote_name(column_name) -%}
    {{ return(relation_alias ~ '.' ~ quoted if relation_alias else quoted) }}
{% endmacro %}


{% macro _fold_xor(terms, open, separator, close) %}
    {#- An empty row hashes to 0; otherwise xor the per-column terms. -#}
    {%- if terms | length == 0 -%}
        {{ return('0') }}
    {%- elif terms | length == 1 -%}
        {{ return(terms[0]) }}
    {%- elif separator == ', ' -%}
        {#- Function form, xor(a, b): nest pairwise. -#}
        {%- set ns = namespace(expression=terms[0]) -%}
        {%- for term in terms[1:] -%}
            {%- set ns.expression = open ~ ns.expression ~ separator ~ term ~ close -%}
        {%- endfor -%}
        {{ return(ns.expression) }}
    {%- else -%}
        {{ return(open ~ terms | join(separator) ~ close) }}
    {%- endif -%}
{% endmacro %}


{% macro sql_string(value) %}
    {#- A SQL string literal for a name or a config value. -#}
    {{ return(adapter.dispatch('sql_string', 'session_backup')(value)) }}
{% endmacro %}

{% macro default__sql_string(value) %}
    {#- Standard SQL: only the quote is special. -#}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}

{% macro bigquery__sql_string(value) %}
    {#- BigQuery string literals also treat the backslash as an escape. -#}
    {{ return("'" ~ (value | string | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") }}
{% endmacro %}
