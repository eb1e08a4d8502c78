{% macro backup_was_selected() %}
    {#- The package's on-run-end hooks run in every invocation of the installing project; they
        only have work to do when that invocation built part of the backup (a node tagged
        session_backup), not when someone runs the project's own models. -#}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- for unique_id in selected_resources -%}
        {%- set node = graph.nodes.get(unique_id) -%}
        {%- if node is not none and 'session_backup' in (node.tags or []) -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{% endmacro %}
