-- A view, not a table: it reads segments.* as they are now, so it always shows the run the segmentation
-- last published, with no dbt step in between that a crash could leave behind.
{{ config(materialized='view') }}
-- Each customer with their current segment (the latest scoring: a refit is scored straight away, so
-- customers new since the fit are here too), its name and recommended action, whether the customer is
-- in the persistent holdout (leave them out of campaigns), why they are in that segment (the refit's
-- explanations, where the scoring still agrees with the refit), and the attributes marketers filter on.
-- A warehouse last refitted before explanations existed has none yet: why stays empty until the next refit.
{%- set explained = true %}
{%- if execute %}{% set explained = load_relation(source('segments', 'customer_explanations')) is not none %}{% endif %}
with why as (
    {%- if explained %}
    select customer_id, segment_id,
           {{ ordered_listagg('explanation', "'; '", 'rank') }} as why
    from {{ source('segments', 'customer_explanations') }}
    group by 1, 2
    {%- else %}
    select s.customer_id, s.segment_id, cast(null as {{ dbt.type_string() }}) as why
    from {{ source('segments', 'customer_scores') }} as s
    where false
    {%- endif %}
)

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
    w.why,
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
left join why as w on s.customer_id = w.customer_id and s.segment_id = w.segment_id
