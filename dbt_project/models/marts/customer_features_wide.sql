-- depends_on: {{ ref('int_order_items__checked') }}, {{ ref('stg_shop__products') }}
-- customer_features plus one share_<category> column per category the data has (the biggest
-- var('max_categories') by spend, the rest as share_other): what the segmentation reads. The
-- categories differ between retailers, so these columns live here, outside the contract.
{%- set categories = top_categories() %}
select
    f.*
    {%- for category, slug in categories %},
    coalesce(c.share_{{ slug }}, 0) as share_{{ slug }}
    {%- endfor %}
from {{ ref('customer_features') }} as f
left join {{ ref('int_customer__category_mix') }} as c on f.customer_id = c.customer_id
