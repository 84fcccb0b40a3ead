-- Each customer with their current segment (the latest scoring: a refit is scored straight away, so
-- customers new since the fit are here too), its name and recommended action, whether the customer is
-- in the persistent holdout (leave them out of campaigns), and the attributes marketers filter on.
select
    s.customer_id,
    {{ source_customer_id('s.customer_id') }} as source_customer_id,
    s.macro_segment_id,
    macro.segment_name as macro_segment_name,
    s.segment_id,
    p.segment_name,
    h.is_holdout,
    p.recommended_channel,
    p.message_theme,
    p.offer_type,
    p.is_niche,
    f.region,
    f.city,
    f.age_band,
    f.gender,
    f.is_loyalty_member,
    f.top_category,
    f.recency_days,
    f.order_count,
    f.net_revenue,
    s.model_run_id as run_id,
    s.result_id
from {{ source('segments', 'customer_scores') }} as s
inner join {{ ref('customer_features') }} as f on s.customer_id = f.customer_id
inner join {{ ref('customer_holdouts') }} as h on s.customer_id = h.customer_id
inner join {{ source('segments', 'segment_profiles') }} as p on s.segment_id = p.segment_id
inner join {{ source('segments', 'segment_profiles') }} as macro on s.macro_segment_id = macro.segment_id
