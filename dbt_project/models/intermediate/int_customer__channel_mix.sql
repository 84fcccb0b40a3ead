-- depends_on: {{ ref('int_orders__checked') }}, {{ ref('stg_web__events') }}
-- Where customers buy (order channel shares) and on what (device shares over web sessions and
-- device-tagged orders), for the channels and devices the data has (top_channels, top_devices).
{%- set channels = top_channels() %}
{%- set devices = top_devices() %}
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
        customer_id{{ ',' if channels }}
        {{- share_columns(channels, 'channel', '_order_share') }}
    from orders
    group by customer_id
),

device_shares as (
    select
        customer_id{{ ',' if devices }}
        {{- share_columns(devices, 'device', '_share') }}
    from device_use
    group by customer_id
)

select
    coalesce(c.customer_id, d.customer_id) as customer_id
    {%- for value, slug in channels %},
    coalesce(c.{{ slug }}_order_share, 0) as {{ slug }}_order_share
    {%- endfor %}
    {%- for value, slug in devices %},
    coalesce(d.{{ slug }}_share, 0) as {{ slug }}_share
    {%- endfor %}
from channel_shares as c
full outer join device_shares as d on c.customer_id = d.customer_id
