{% macro version_pairs(landing_states, head_states, identity, compared) %}
    {#- version_runs for a batch of one session per scope: each (scope, identity) has at most a
        Head version (before) and a landing version (the session), so a join decides it:
        same value - the Head version goes on; different or absent - the Head version closes at
        the session and the landing one (if any) opens. Same output as version_runs. -#}
    {%- set identity_list = identity | join(', ') -%}
    with

    landing_keys as (
        select
            backup_scope,
            {{ identity_list }},
            session_seq,
            any_value({{ compared }}) as {{ compared }},
            count(*) as occurrences
        from {{ landing_states }}
        group by backup_scope, {{ identity_list }}, session_seq
    ),

    head_versions as (
        select
            head.backup_scope,
            {%- for name in identity %}
            head.{{ name }},
            {%- endfor %}
            1 as version_number,
            head.{{ compared }},
            head.carried_valid_from_seq as backup_valid_from_seq,
            head.carried_valid_from_session_id,
            case
                when landing.occurrences = 1 and landing.{{ compared }} = head.{{ compared }}
                    then landing.session_seq
                else head.session_seq
            end as last_seen_seq,
            true as is_head_version,
            false as has_duplicate_key
        from {{ head_states }} as head
        left join landing_keys as landing
            on landing.backup_scope = head.backup_scope
            {%- for name in identity %}
            and landing.{{ name }} = head.{{ name }}
            {%- endfor %}
    ),

    landing_versions as (
        select
            landing.backup_scope,
            {%- for name in identity %}
            landing.{{ name }},
            {%- endfor %}
            2 as version_number,
            landing.{{ compared }},
            landing.session_seq as backup_valid_from_seq,
            cast(null as {{ dbt.type_string() }}) as carried_valid_from_session_id,
            landing.session_seq as last_seen_seq,
            false as is_head_version,
            landing.occurrences > 1 as has_duplicate_key
        from landing_keys as landing
        left join {{ head_states }} as head
            on landing.backup_scope = head.backup_scope
            {%- for name in identity %}
            and landing.{{ name }} = head.{{ name }}
            {%- endfor %}
        where head.backup_scope is null
            or head.{{ compared }} <> landing.{{ compared }}
            or landing.occurrences > 1
    )

    select * from head_versions
    union all
    select * from landing_versions
{% endmacro %}
