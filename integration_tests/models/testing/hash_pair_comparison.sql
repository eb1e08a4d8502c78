{#- Thin wrapper that unit tests the row_hash macro: does it tell two rows apart, and does it
    ignore an added all-NULL column? Engine-neutral: it compares hashes, never their values. -#}
{%- set two_columns = [
    api.Column.create('text_value', 'varchar'),
    api.Column.create('other_value', 'varchar'),
    api.Column.create('number_value', 'double'),
] -%}
{%- set with_new_column = two_columns + [api.Column.create('added_later', 'varchar')] -%}

with

pairs as (
    select * from {{ ref('hash_pairs') }}
),

left_rows as (
    select
        case_name,
        left_text as text_value,
        left_other as other_value,
        left_number as number_value,
        cast(null as {{ dbt.type_string() }}) as added_later
    from pairs
),

right_rows as (
    select
        case_name,
        right_text as text_value,
        right_other as other_value,
        right_number as number_value
    from pairs
),

hashed as (
    select
        left_rows.case_name,
        {{ session_backup.row_hash(two_columns, 'left_rows') }} as left_hash,
        {{ session_backup.row_hash(with_new_column, 'left_rows') }} as left_hash_with_null_column,
        {{ session_backup.row_hash(two_columns, 'right_rows') }} as right_hash
    from left_rows
    inner join right_rows
        on left_rows.case_name = right_rows.case_name
)

select
    case_name,
    left_hash = right_hash as hashes_equal,
    left_hash = left_hash_with_null_column as ignores_null_column
from hashed
