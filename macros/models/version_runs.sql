{% macro version_runs(states, identity, state_columns, compared, irregular_states=none) %}
    {#- Versions of a batch of many sessions per scope: consecutive sessions in which one
        (scope, identity) keeps the same compared value form one version; a gap (the row was
        absent) or a new value starts a new version. Input rows: backup_scope, session_seq,
        identity, state columns, carried_valid_from_seq/_session_id (set on Head rows only).
        Output: one row per version with its first and last session (as version_pairs).

        No sort of the batch: one hash aggregation per (scope, identity, value) gives the
        sessions a value was seen in. A value seen in every session of its span, of a key whose
        values do not overlap, is a version as it stands: that is nearly every key. Only the
        irregular keys (a value that came back after a gap or another value, or a key twice in a
        session) go through gaps-and-islands windows, over their own rows only. Those rows come
        from `irregular_states` (SQL over the CTE `irregular_keys`, e.g. a narrow re-read of
        landing for just those keys) or, without it, from `states` again. -#}
    {%- set identity_list = identity | join(', ') -%}
    {%- set extra_states = [] -%}
    {%- for name in state_columns if name not in identity and name != compared -%}
        {%- do extra_states.append(name) -%}
    {%- endfor -%}
    with

    value_spans as (
        select
            backup_scope,
            {{ identity_list }},
            {{ compared }},
            {%- for name in extra_states %}
            any_value({{ name }}) as {{ name }},
            {%- endfor %}
            count(*) as sessions_seen,
            min(session_seq) as first_seq,
            max(session_seq) as last_seq,
            min(carried_valid_from_seq) as carried_valid_from_seq,
            max(carried_valid_from_session_id) as carried_valid_from_session_id
        from {{ states }}
        group by backup_scope, {{ identity_list }}, {{ compared }}
    ),

    key_shapes as (
        select
            backup_scope,
            {{ identity_list }},
            count(*) as value_count,
            max(case when sessions_seen <> last_seq - first_seq + 1 then 1 else 0 end) = 1 as is_irregular
        from value_spans
        group by backup_scope, {{ identity_list }}
    ),

    regular_spans as (
        select
            value_spans.*,
            key_shapes.value_count
        from value_spans
        inner join key_shapes
            on key_shapes.backup_scope = value_spans.backup_scope
            {%- for name in identity %}
            and key_shapes.{{ name }} is not distinct from value_spans.{{ name }}
            {%- endfor %}
        where not key_shapes.is_irregular
    ),

    regular_versions as (
        {# A key with one value: its span is its version. #}
        select
            backup_scope,
            {{ identity_list }},
            1 as version_number,
            {{ compared }},
            {%- for name in extra_states %}
            {{ name }},
            {%- endfor %}
            coalesce(carried_valid_from_seq, first_seq) as backup_valid_from_seq,
            carried_valid_from_session_id,
            last_seq as last_seen_seq,
            carried_valid_from_seq is not null as is_head_version,
            false as has_duplicate_key
        from regular_spans
        where value_count = 1
        union all
        {# A key with several values: each span is a version, unless two overlap (the key held
            two rows in one session). Sorted by start, any overlap shows between neighbours. #}
        select
            backup_scope,
            {{ identity_list }},
            row_number() over by_start as version_number,
            {{ compared }},
            {%- for name in extra_states %}
            {{ name }},
            {%- endfor %}
            coalesce(carried_valid_from_seq, first_seq) as backup_valid_from_seq,
            carried_valid_from_session_id,
            last_seq as last_seen_seq,
            carried_valid_from_seq is not null as is_head_version,
            coalesce(lag(last_seq) over by_start >= first_seq, false) as has_duplicate_key
        from regular_spans
        where value_count > 1
        window by_start as (partition by backup_scope, {{ identity_list }} order by first_seq)
    ),

    irregular_keys as (
        select backup_scope, {{ identity_list }}
        from key_shapes
        where is_irregular
    ),

    irregular_states as (
        {%- if irregular_states is not none %}
        {{ irregular_states }}
        {%- else %}
        select states.*
        from {{ states }} as states
        inner join irregular_keys
            on irregular_keys.backup_scope = states.backup_scope
            {%- for name in identity %}
            and irregular_keys.{{ name }} is not distinct from states.{{ name }}
            {%- endfor %}
        {%- endif %}
    ),

    compared_with_previous as (
        select
            *,
            lag(session_seq) over by_identity as previous_seq,
            lag({{ compared }}) over by_identity as previous_value
        from irregular_states
        window by_identity as (partition by backup_scope, {{ identity_list }} order by session_seq)
    ),

    version_starts as (
        select
            *,
            case
                when previous_seq = session_seq - 1 and previous_value = {{ compared }} then 0
                else 1
            end as starts_version,
            coalesce(previous_seq = session_seq, false) as is_duplicate_key
        from compared_with_previous
    ),

    numbered_versions as (
        select
            *,
            sum(starts_version) over (
                partition by backup_scope, {{ identity_list }}
                order by session_seq
                rows between unbounded preceding and current row
            ) as version_number
        from version_starts
    ),

    irregular_versions as (
        select
            backup_scope,
            {{ identity_list }},
            version_number,
            {%- for name in state_columns if name not in identity %}
            any_value({{ name }}) as {{ name }},
            {%- endfor %}
            min(coalesce(carried_valid_from_seq, session_seq)) as backup_valid_from_seq,
            max(carried_valid_from_session_id) as carried_valid_from_session_id,
            max(session_seq) as last_seen_seq,
            count(carried_valid_from_seq) > 0 as is_head_version,
            max(case when is_duplicate_key then 1 else 0 end) = 1 as has_duplicate_key
        from numbered_versions
        group by backup_scope, {{ identity_list }}, version_number
    )

    select * from regular_versions
    union all
    select
        backup_scope,
        {{ identity_list }},
        version_number,
        {{ compared }},
        {%- for name in extra_states %}
        {{ name }},
        {%- endfor %}
        backup_valid_from_seq,
        carried_valid_from_session_id,
        last_seen_seq,
        is_head_version,
        has_duplicate_key
    from irregular_versions
{% endmacro %}
