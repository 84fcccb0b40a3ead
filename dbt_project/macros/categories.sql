{#- The categories the data has: the var('max_categories') biggest by spend on trusted sale lines,
    as (category, column-safe slug) pairs, then (none, 'other') when there are more categories
    than that: they count together as 'other'. Read when the
    model runs (run_query); at parse time there is no data, so the list is empty. Models that call
    this must name its relations in a `-- depends_on:` comment. -#}
{% macro top_categories() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select p.category, sum(i.line_amount) as spend
        from {{ ref('int_order_items__checked') }} as i
        inner join {{ ref('stg_shop__products') }} as p on i.product_id = p.product_id
        where i.dq_issue is null and i.line_type = 'sale' and p.category is not null
        group by p.category
        order by spend desc, p.category
        limit {{ var('max_categories') + 1 }}
    {%- endset -%}
    {%- set pairs = [] %}
    {%- set seen = [] %}
    {%- set found = run_query(query).columns[0].values() %}
    {%- for category in found[:var('max_categories')] %}
        {%- set slug = modules.re.sub('[^a-z0-9]+', '_', category | lower).strip('_') or 'unnamed' %}
        {%- if slug in seen or slug == 'other' %}{% set slug = slug ~ '_' ~ loop.index %}{% endif %}
        {%- do seen.append(slug) %}
        {%- do pairs.append((category, slug)) %}
    {%- endfor %}
    {%- if found | length > var('max_categories') %}{% do pairs.append((none, 'other')) %}{% endif %}
    {{ return(pairs) }}
{% endmacro %}
