{% macro checksum_columns(hash_expression) %}
    {#- Order-independent multiset checksum of a set of rows: the row count and the sums of the
        low and high 32 bits of each row hash. Sums (unlike xor) keep every duplicate, and the
        split keeps both sums far from overflow. -#}
    {{ return(adapter.dispatch('checksum_columns', 'session_backup')(hash_expression)) }}
{% endmacro %}


{% macro default__checksum_columns(hash_expression) %}
    count(*) as row_count,
    coalesce(sum({{ hash_expression }} & 4294967295), 0) as checksum_low,
    {#- Masked after the shift: BigQuery shifts in zeros, some engines sign-extend. -#}
    coalesce(sum(({{ hash_expression }} >> 32) & 4294967295), 0) as checksum_high
{% endmacro %}


{% macro duckdb__checksum_columns(hash_expression) %}
    count(*) as row_count,
    cast(coalesce(sum({{ hash_expression }} & 4294967295::ubigint), 0) as bigint) as checksum_low,
    cast(coalesce(sum({{ hash_expression }} >> 32), 0) as bigint) as checksum_high
{% endmacro %}
