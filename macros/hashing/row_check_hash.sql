{% macro row_check_hash(columns, relation_alias=none) %}
    {#- A second, independent 64-bit hash. Keyless tables identify a row by its content alone,
        so (row_hash, row_check_hash) together form a 128-bit identity: a silent collision among
        millions of distinct rows over years of sessions stops being a realistic risk.
        Same NULL and naming rules as row_hash. -#}
    {{ return(adapter.dispatch('row_check_hash', 'session_backup')(columns, relation_alias)) }}
{% endmacro %}


{% macro default__row_check_hash(columns, relation_alias) %}
    {{ exceptions.raise_compiler_error("row_check_hash is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}


{% macro duckdb__row_check_hash(columns, relation_alias) %}
    {#- MD5 of the text form: a different function from hash(), so collisions are independent.
        The text form of a DOUBLE keeps -0.0 and NaN distinct. -#}
    {%- set terms = [] -%}
    {%- for column in columns -%}
        {%- set ref = session_backup._column_ref(column.name, relation_alias) -%}
        {%- set text = "cast(" ~ ref ~ " as varchar)" -%}
        {%- if session_backup.is_float_column(column) -%}
            {#- NaN is one value (docs/decisions/0004-floats-through-cold.md): '-nan' reads as 'nan'. -#}
            {%- set text = "case when isnan(" ~ ref ~ ") then 'nan' else " ~ text ~ " end" -%}
        {%- endif -%}
        {%- set payload = "concat(" ~ session_backup.sql_string(column.name | lower) ~ ", chr(0), " ~ text ~ ")" -%}
        {%- do terms.append("case when " ~ ref ~ " is null then 0::ubigint else md5_number_lower(" ~ payload ~ ") end") -%}
    {%- endfor -%}
    {{ return(session_backup._fold_xor(terms, 'xor(', ', ', ')')) }}
{% endmacro %}


{% macro bigquery__row_check_hash(columns, relation_alias) %}
    {#- The first 60 bits of MD5 over the same JSON payload (60 so the hex always fits INT64). -#}
    {%- set terms = [] -%}
    {%- for column in columns -%}
        {%- set ref = session_backup._column_ref(column.name, relation_alias) -%}
        {%- set payload = "to_json_string(struct(" ~ ref ~ " as " ~ session_backup.quote_name(column.name | lower) ~ "))" -%}
        {%- if session_backup.is_float_column(column) -%}
            {%- set payload = "concat(" ~ payload ~ ", if(" ~ ref ~ " = 0 and ieee_divide(1, " ~ ref ~ ") < 0, '-', ''))" -%}
        {%- endif -%}
        {%- do terms.append("if(" ~ ref ~ " is null, 0, cast(concat('0x', substr(to_hex(md5(" ~ payload ~ ")), 1, 15)) as int64))") -%}
    {%- endfor -%}
    {{ return(session_backup._fold_xor(terms, '(', ' ^ ', ')')) }}
{% endmacro %}
