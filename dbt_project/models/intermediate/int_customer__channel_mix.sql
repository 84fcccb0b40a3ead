-- Where customers buy (order channel shares) and on what (device shares over
-- web sessions and device-tagged orders).
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
        {{ safe_ratio("sum(case when channel = 'web' then 1 else 0 end)", 'count(*)') }} as web_order_share,
        {{ safe_ratio("sum(case when channel = 'app' then 1 else 0 end)", 'count(*)') }} as app_order_share,
        {{ safe_ratio("sum(case when channel = 'store' then 1 else 0 end)", 'count(*)') }} as store_order_share
    from orders
    group by customer_id
),

device_shares as (
    select
        customer_id,
        {{ safe_ratio("sum(case when device = 'desktop' then 1 else 0 end)", 'count(*)') }} as desktop_share,
        {{ safe_ratio("sum(case when device = 'mobile' then 1 else 0 end)", 'count(*)') }} as mobile_share,
        {{ safe_ratio("sum(case when device = 'tablet' then 1 else 0 end)", 'count(*)') }} as tablet_share
    from device_use
    group by customer_id
)

select
    coalesce(c.customer_id, d.customer_id) as customer_id,
    coalesce(c.web_order_share, 0) as web_order_share,
    coalesce(c.app_order_share, 0) as app_order_share,
    coalesce(c.store_order_share, 0) as store_order_share,
    coalesce(d.desktop_share, 0) as desktop_share,
    coalesce(d.mobile_share, 0) as mobile_share,
    coalesce(d.tablet_share, 0) as tablet_share
from channel_shares as c
full outer join device_shares as d on c.customer_id = d.customer_id
