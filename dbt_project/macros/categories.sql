{#- Values found in the data, biggest first, as (value, column-safe slug) pairs: what becomes one
    feature column each (categories, order channels, devices). `query` returns (value, weight);
    the first `limit` values are kept, then (none, 'other') when there are more and `other` is
    true. A slug in `reserved` (a fixed column it would clash with) gets a number. Read when the
    model runs (run_query); at parse time there is no data and the list is empty, so a model
    that calls these must name their relations in a `-- depends_on:` comment. -#}
{% macro values_in_data(query, limit, other=true, reserved=[]) %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set found = run_query(query ~ ' limit ' ~ (limit + 1)).columns[0].values() %}
    {%- set pairs = [] %}
    {%- set seen = [] %}
    {%- for value in found[:limit] %}
        {%- set slug = modules.re.sub('[^a-z0-9]+', '_', value | string | lower).strip('_') or 'unnamed' %}
        {%- if slug in seen or slug == 'other' or slug in reserved %}{% set slug = slug ~ '_' ~ loop.index %}{% endif %}
        {%- do seen.append(slug) %}
        {%- do pairs.append((value, slug)) %}
    {%- endfor %}
    {%- if other and found | length > limit %}{% do pairs.append((none, 'other')) %}{% endif %}
    {{ return(pairs) }}
{% endmacro %}

{#- Categories by spend on trusted sale lines. -#}
{% macro top_categories() %}
    {{ return(values_in_data(
        "select p.category, sum(i.line_amount) as spend
         from " ~ ref('int_order_items__checked') ~ " as i
         inner join " ~ ref('stg_shop__products') ~ " as p on i.product_id = p.product_id
         where i.dq_issue is null and i.line_type = 'sale' and p.category is not null
         group by p.category order by spend desc, p.category",
        var('max_categories'))) }}
{% endmacro %}

{#- Order channels by number of trusted orders ('unknown' is no channel). -#}
{% macro top_channels() %}
    {{ return(values_in_data(
        "select channel, count(*) as orders from " ~ ref('int_orders__checked') ~ "
         where dq_issue is null and channel is not null and channel <> 'unknown'
         group by channel order by orders desc, channel",
        var('max_channels'))) }}
{% endmacro %}

{#- Devices by use: device-tagged orders and web events. -#}
{% macro top_devices() %}
    {{ return(values_in_data(
        "select device, count(*) as uses from (
             select device from " ~ ref('int_orders__checked') ~ " where dq_issue is null
             union all select device from " ~ ref('stg_web__events') ~ ")
         where device is not null group by device order by uses desc, device",
        var('max_devices'))) }}
{% endmacro %}

{#- Marketing touch channels by number of touches. No 'other': a response rate of "the rest"
    is nothing a campaign can use; those touches count in the all-channel touch_* columns.
    'touch' is reserved: touch_open_rate is the all-channel rate. -#}
{% macro top_touch_channels() %}
    {{ return(values_in_data(
        "select channel, count(*) as touches from " ~ ref('stg_marketing__touches') ~ "
         where channel is not null group by channel order by touches desc, channel",
        var('max_touch_channels'), other=false, reserved=['touch'])) }}
{% endmacro %}
