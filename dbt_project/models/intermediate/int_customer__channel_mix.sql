-- Where customers buy (order channel shares) and on what (device shares over
-- web sessions and device-tagged orders).
{%- set channels = var('order_channels') %}
{%- set devices = var('devices') %}
with orders as (
    select customer_id, channel, device
    from {{ ref('int_orders__valid') }}
    where status <> 'cancelled'
),

sessions as (
    select customer_id, session_id, max(device) as device
    from {{ ref('stg_web__events') }}
    group by customer_id, session_id
),

device_use as (
    select customer_id, device from orders where device is not null
    union all
    select customer_id, device from sessions
),

channel_shares as (
    select
        customer_id,
        {%- for channel in channels %}
        {{ safe_ratio("sum(case when channel = '" ~ channel ~ "' then 1 else 0 end)", 'count(*)') }} as {{ channel }}_order_share
        {{- ',' if not loop.last }}
        {%- endfor %}
    from orders
    group by customer_id
),

device_shares as (
    select
        customer_id,
        {%- for device in devices %}
        {{ safe_ratio("sum(case when device = '" ~ device ~ "' then 1 else 0 end)", 'count(*)') }} as {{ device }}_share
        {{- ',' if not loop.last }}
        {%- endfor %}
    from device_use
    group by customer_id
)

select
    coalesce(c.customer_id, d.customer_id) as customer_id,
    {%- for channel in channels %}
    coalesce(c.{{ channel }}_order_share, 0) as {{ channel }}_order_share,
    {%- endfor %}
    {%- for device in devices %}
    coalesce(d.{{ device }}_share, 0) as {{ device }}_share{{ ',' if not loop.last }}
    {%- endfor %}
from channel_shares as c
full outer join device_shares as d on c.customer_id = d.customer_id
