{% macro version_key_states(landing_states, head_states, identity, compared) %}
    {#- For a batch of one session per scope: each (scope, identity) has at most a Head version
        (before) and a landing version (the session). One hash aggregation over both gives, per
        key, how many landing rows it has, their value and Head's: version_pairs decides from
        it, and the session's landing checksum sums it (no second pass over landing). -#}
    {%- set identity_list = identity | join(', ') -%}
    with

    both_states as (
        select
            backup_scope,
            {{ identity_list }},
            session_seq,
            {{ compared }},
            carried_valid_from_seq,
            carried_valid_from_session_id,
            false as is_head_row
        from {{ landing_states }}
        union all
        select
            backup_scope,
            {{ identity_list }},
            session_seq,
            {{ compared }},
            carried_valid_from_seq,
            carried_valid_from_session_id,
            true as is_head_row
        from {{ head_states }}
    ),

    key_states as (
        select
            backup_scope,
            {{ identity_list }},
            count(case when not is_head_row then 1 end) as landing_rows,
            max(case when not is_head_row then session_seq end) as landing_seq,
            max(case when not is_head_row then {{ compared }} end) as landing_value,
            max(case when is_head_row then session_seq end) as head_seq,
            max(case when is_head_row then {{ compared }} end) as head_value,
            max(carried_valid_from_seq) as carried_valid_from_seq,
            max(carried_valid_from_session_id) as carried_valid_from_session_id
        from both_states
        group by backup_scope, {{ identity_list }}
    )

    select * from key_states
{% endmacro %}


{% macro version_pairs(key_states, identity, compared) %}
    {#- version_runs for a batch of one session per scope, from version_key_states: same value
        once - the Head version goes on; different, absent or twice - the Head version closes at
        the session and the landing one (if any) opens. No join of the batch with Head. Same
        output as version_runs. -#}
    {%- set identity_list = identity | join(', ') -%}
    with

    changed_keys as (
        select *
        from {{ key_states }}
        where head_seq is null
            or landing_rows <> 1
            or landing_value <> head_value
    )

    select
        backup_scope,
        {{ identity_list }},
        1 as version_number,
        head_value as {{ compared }},
        carried_valid_from_seq as backup_valid_from_seq,
        carried_valid_from_session_id,
        head_seq as last_seen_seq,
        true as is_head_version,
        false as has_duplicate_key
    from changed_keys
    where head_seq is not null
    union all
    select
        backup_scope,
        {{ identity_list }},
        2 as version_number,
        landing_value as {{ compared }},
        landing_seq as backup_valid_from_seq,
        cast(null as {{ dbt.type_string() }}) as carried_valid_from_session_id,
        landing_seq as last_seen_seq,
        false as is_head_version,
        landing_rows > 1 as has_duplicate_key
    from changed_keys
    where landing_rows > 0
{% endmacro %}
