-- For each pair of consecutive results (daily scores and refits, in segments.scoring_runs):
-- how many customers, and how much of their revenue, went from each segment to each other
-- ('(new)' = not in the previous result, '(gone)' = not in this one). Read from the
-- membership history, so stays are rows too (moved = false).
with results as (
    select result_id, scored_at, row_number() over (order by scored_at, result_id) as result_number
    from {{ source('segments', 'scoring_runs') }}
),

pairs as (
    select cur.result_id, cur.scored_at, prev.result_id as previous_result_id
    from results as cur
    inner join results as prev on prev.result_number = cur.result_number - 1
),

-- each customer's segment as each result left it
membership as (
    select r.result_id, h.customer_id, h.segment_id
    from results as r
    inner join {{ ref('customer_segment_history') }} as h
        on h.dbt_valid_from <= r.scored_at and (h.dbt_valid_to is null or h.dbt_valid_to > r.scored_at)
),

moves as (
    select
        p.result_id,
        p.previous_result_id,
        p.scored_at,
        m.customer_id,
        max(case when m.result_id = p.previous_result_id then m.segment_id end) as from_segment_id,
        max(case when m.result_id = p.result_id then m.segment_id end) as to_segment_id
    from pairs as p
    inner join membership as m on m.result_id in (p.result_id, p.previous_result_id)
    group by p.result_id, p.previous_result_id, p.scored_at, m.customer_id
)

select
    mv.result_id,
    mv.previous_result_id,
    mv.scored_at,
    coalesce(mv.from_segment_id, '(new)') as from_segment_id,
    coalesce(mv.to_segment_id, '(gone)') as to_segment_id,
    coalesce(mv.from_segment_id, '(new)') <> coalesce(mv.to_segment_id, '(gone)') as moved,
    count(*) as customers,
    sum(coalesce(f.net_revenue, 0)) as net_revenue
from moves as mv
left join {{ ref('customer_features') }} as f on mv.customer_id = f.customer_id
group by 1, 2, 3, 4, 5, 6
