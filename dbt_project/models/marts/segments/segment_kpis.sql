-- Segments ranked by priority within each level, with each KPI beside its target.
select
    p.level,
    p.segment_id,
    p.parent_segment_id,
    p.segment_name,
    p.customers,
    p.share_of_customers,
    p.share_of_revenue,
    p.avg_customer_value,
    p.priority_score,
    rank() over (partition by p.level order by p.priority_score desc) as priority_rank,
    p.budget_share,
    p.budget,
    p.recommended_channel,
    p.conversion_rate, p.conversion_rate_target,
    p.open_rate, p.open_rate_target,
    p.click_rate, p.click_rate_target,
    p.avg_order_value, p.avg_order_value_target,
    p.repeat_rate, p.repeat_rate_target,
    p.return_rate, p.return_rate_target,
    p.is_stable,
    p.is_niche,
    p.run_id,
    r.finished_at as segmented_at
from {{ source('segments', 'segment_profiles') }} as p
inner join {{ source('segments', 'segmentation_runs') }} as r on p.run_id = r.run_id
