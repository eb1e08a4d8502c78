{% macro settings() %}
    {#- Every setting of the backup, with its default, in one place. A project that installs the
        package sets any of them as a global var in its dbt_project.yml (`vars:`); global, not
        under `session_backup:`, because the generated models belong to that project and a var
        scoped to the package would not reach them. The CLI reads the values dbt resolved from
        the parsed manifest (backup_manifest's meta), never from its own reading of YAML. -#}
    {%- set defaults = {
        'succeeded_status': 'succeeded',
        'hash_version': 'v2',
        'recheck_recent_sessions': 1,
        'session_backup_source': 'landing',
        'session_backup_prefix': 'backup_',
        'session_backup_folder': 'models/session_backup',
    } -%}
    {%- set memo = session_backup.node_memo() -%}
    {%- if 'settings' not in memo -%}
        {%- set resolved = {} -%}
        {%- for name, default in defaults.items() -%}
            {%- do resolved.update({name: var(name, default)}) -%}
        {%- endfor -%}
        {%- do memo.update({'settings': resolved}) -%}
    {%- endif -%}
    {{ return(memo['settings']) }}
{% endmacro %}


{% macro setting(name) %}
    {%- set all = session_backup.settings() -%}
    {%- if name not in all -%}
        {{ exceptions.raise_compiler_error("Unknown session_backup setting '" ~ name ~ "'.") }}
    {%- endif -%}
    {{ return(all[name]) }}
{% endmacro %}


{% macro landing_source(table_name) %}
    {#- The user's landing source (var session_backup_source), one of its tables. -#}
    {{ return(source(session_backup.setting('session_backup_source'), table_name)) }}
{% endmacro %}


{% macro backup_ref(kind, table_name) %}
    {#- A generated model of one declared table, e.g. backup_ref('changes', 'orders'). Model names
        carry the prefix (var session_backup_prefix) so they cannot collide with the project's
        own models; the tables they build keep the plain `<kind>_<table>` names (their alias). -#}
    {{ return(ref(session_backup.setting('session_backup_prefix') ~ kind ~ '_' ~ table_name)) }}
{% endmacro %}
