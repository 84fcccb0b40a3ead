-- depends_on: {{ customer_build_inputs() }}
-- depends_on: {{ ref('int_orders__checked') }}, {{ ref('stg_web__events') }}
-- Where customers buy (order channel shares) and on what (device shares over web sessions and
-- device-tagged orders), for the channels and devices the data has (top_channels, top_devices).
{%- set channels = top_channels() %}
{%- set devices = top_devices() %}
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['orders', 'web_events'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build([top_channels(), top_devices()] if stages_incrementally() else []) }}") }}
{%- set changed_only = rebuilds_changed_customers([channels, devices]) %}
with orders as (
    select customer_id, channel, device
    from {{ for_customers(ref('int_orders__valid'), changed_only) }} as valid
    where status <> 'cancelled'
),

sessions as (
    select customer_id, session_id, max(device) as device
    from {{ for_customers(ref('stg_web__events'), changed_only) }} as events
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
