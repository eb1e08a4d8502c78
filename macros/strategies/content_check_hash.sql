{% macro content_check_hash(columns, relation_alias=none) %}
    {#- The second half of the 128-bit content identity of the incremental and differential
        strategies (the first half is row_hash): an independent 64-bit hash, MD5-based like
        row_check_hash, with the same rules (NULL columns contribute nothing, each value is salted
        with its column name, -0.0 and NaN stay distinct through their text form), but ONE MD5 per
        row over an unambiguous encoding instead of one MD5 per column. On TPC-H lineitem (16
        columns) row_check_hash costs ~13 us per row, this ~3 us: these strategies hash every
        landing row, not only keyless tables. See docs/bench/README.md. -#}
    {{ return(adapter.dispatch('content_check_hash', 'session_backup')(columns, relation_alias)) }}
{% endmacro %}


{% macro default__content_check_hash(columns, relation_alias) %}
    {{ exceptions.raise_compiler_error("content_check_hash is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}


{% macro duckdb__content_check_hash(columns, relation_alias) %}
    {#- name NUL text NUL for values whose text cannot hold a NUL (numbers, dates, booleans...);
        name NUL byte-length NUL text for the others: no value can run into the next column.
        Length prefixes only where needed save ~25 % (the MD5 itself is ~1.4 us per row here). -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- set ref = session_backup._column_ref(column.name, relation_alias) -%}
        {%- set text = "cast(" ~ ref ~ " as varchar)" -%}
        {%- set name = session_backup.sql_string(column.name | lower) -%}
        {%- if session_backup._has_plain_text_form(column) -%}
            {%- set encoded = "concat(" ~ name ~ ", chr(0), " ~ text ~ ", chr(0))" -%}
        {%- else -%}
            {%- set encoded = "concat(" ~ name ~ ", chr(0), strlen(" ~ text ~ "), chr(0), " ~ text ~ ")" -%}
        {%- endif -%}
        {%- do parts.append("case when " ~ ref ~ " is null then '' else " ~ encoded ~ " end") -%}
    {%- endfor -%}
    {%- if parts | length == 0 -%}
        {{ return('0::ubigint') }}
    {%- endif -%}
    {{ return("md5_number_lower(concat(" ~ parts | join(', ') ~ "))") }}
{% endmacro %}


{% macro _has_plain_text_form(column) %}
    {#- Types whose text form never contains a NUL byte. -#}
    {%- set type = column.dtype | lower -%}
    {%- for prefix in ['tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint', 'usmallint',
        'uinteger', 'ubigint', 'uhugeint', 'decimal', 'numeric', 'double', 'float', 'real', 'date', 'time',
        'timestamp', 'boolean', 'bool', 'uuid', 'interval'] if type == prefix or type.startswith(prefix ~ '(') or type.startswith(prefix ~ ' ') -%}
        {{ return(true) }}
    {%- endfor -%}
    {{ return(type in ['timestamp with time zone', 'timestamptz', 'time with time zone', 'timetz']) }}
{% endmacro %}


{% macro bigquery__content_check_hash(columns, relation_alias) %}
    {#- JSON text is unambiguous by itself (strings are quoted and escaped); floats add their
        sign bit as row_hash does. First 60 bits of MD5 so the hex always fits INT64. -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- set ref = session_backup._column_ref(column.name, relation_alias) -%}
        {%- set payload = "to_json_string(struct(" ~ ref ~ " as " ~ session_backup.quote_name(column.name | lower) ~ "))" -%}
        {%- if session_backup.is_float_column(column) -%}
            {%- set payload = "concat(" ~ payload ~ ", if(" ~ ref ~ " = 0 and ieee_divide(1, " ~ ref ~ ") < 0, '-', ''))" -%}
        {%- endif -%}
        {%- do parts.append("if(" ~ ref ~ " is null, '', " ~ payload ~ ")") -%}
    {%- endfor -%}
    {%- if parts | length == 0 -%}
        {{ return('0') }}
    {%- endif -%}
    {{ return("cast(concat('0x', substr(to_hex(md5(concat(" ~ parts | join(', ') ~ "))), 1, 15)) as int64)") }}
{% endmacro %}


{% macro hashes_equal_after_join(left, right) %}
    {#- `left = right` written so that the optimizer keeps it as a filter on the joined rows
        instead of turning it into a join key (which would compute `right` for every row). -#}
    {{ return(adapter.dispatch('hashes_equal_after_join', 'session_backup')(left, right)) }}
{% endmacro %}

{% macro default__hashes_equal_after_join(left, right) %}
    ({{ left }} ^ {{ right }}) = 0
{% endmacro %}

{% macro duckdb__hashes_equal_after_join(left, right) %}
    {#- DuckDB's xor on unsigned integers is the function xor(). -#}
    xor({{ left }}, {{ right }}) = 0
{% endmacro %}
