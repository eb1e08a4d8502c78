{% macro version_runs(states, identity, state_columns, compared) %}
    {#- Gaps and islands over session sequence numbers: consecutive sessions in which one
        (scope, identity) keeps the same compared value form one version. A gap (the row was
        absent) or a new value starts a new version. Input rows: backup_scope, session_seq,
        identity, state columns, carried_valid_from_seq/_session_id (set on Head rows only).
        Output: one row per version with its first and last session. -#}
    {%- set identity_list = identity | join(', ') -%}
    with

    compared_with_previous as (
        select
            *,
            lag(session_seq) over by_identity as previous_seq,
            lag({{ compared }}) over by_identity as previous_value
        from {{ states }}
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
    )

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
{% endmacro %}
