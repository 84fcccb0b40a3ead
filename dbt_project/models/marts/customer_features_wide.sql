-- depends_on: {{ ref('int_order_items__checked') }}, {{ ref('stg_shop__products') }}, {{ ref('int_orders__checked') }}, {{ ref('stg_web__events') }}
-- customer_features plus the columns whose names come from the data: a share_<category> per
-- category (the biggest var('max_categories') by spend, the rest as share_other), an
-- <channel>_order_share per order channel and a <device>_share per device. This is what the
-- segmentation reads; the values differ between retailers, so they live outside the contract.
{%- set categories = top_categories() %}
{%- set channels = top_channels() %}
{%- set devices = top_devices() %}
select
    f.*
    {%- for value, slug in categories %},
    coalesce(c.share_{{ slug }}, 0) as share_{{ slug }}
    {%- endfor %}
    {%- for value, slug in channels %},
    coalesce(ch.{{ slug }}_order_share, 0) as {{ slug }}_order_share
    {%- endfor %}
    {%- for value, slug in devices %},
    coalesce(ch.{{ slug }}_share, 0) as {{ slug }}_share
    {%- endfor %}
from {{ ref('customer_features') }} as f
left join {{ ref('int_customer__category_mix') }} as c on f.customer_id = c.customer_id
left join {{ ref('int_customer__channel_mix') }} as ch on f.customer_id = ch.customer_id
