-- One row per real customer: the features the segmentation reads. Customers with
-- no order in the window get recency = history_days and zero spend, not nulls,
-- so every row can be clustered.
with profile as (select * from {{ ref('int_customer__profile') }}),
rfm as (select * from {{ ref('int_customer__rfm') }}),
categories as (select * from {{ ref('int_customer__category_mix') }}),
engagement as (select * from {{ ref('int_customer__engagement') }}),
rhythm as (select * from {{ ref('int_customer__purchase_rhythm') }}),

-- what is counted to the as-of date here, not in the intermediate models, so that a moved as-of date leaves
-- their rows as they are: tenure, age (and recency, below)
tenure as (
    select
        p.customer_id,
        coalesce({{ dbt.datediff('coalesce(p.signup_date, r.first_order_date)', as_of_date(), 'day') }}, 0) as days,
        case when p.birth_date is not null
            then cast(floor({{ dbt.datediff('p.birth_date', as_of_date(), 'day') }} / 365.25) as integer)
        end as age_years
    from profile as p
    left join rfm as r on p.customer_id = r.customer_id
)

select
    p.customer_id,
    -- demographics
    t.age_years,
    case
        when t.age_years is null then 'unknown'
        when t.age_years < 25 then '18-24'
        when t.age_years < 35 then '25-34'
        when t.age_years < 45 then '35-44'
        when t.age_years < 55 then '45-54'
        when t.age_years < 65 then '55-64'
        else '65+'
    end as age_band,
    p.gender,
    p.is_loyalty_member,
    p.acquisition_channel,
    cast(t.days as integer) as tenure_days,
    -- geography
    p.country_code,
    coalesce(p.region, 'unknown') as region,
    p.city,
    -- behaviour
    cast(coalesce({{ dbt.datediff('r.last_order_date', as_of_date(), 'day') }}, {{ var('history_days') }}) as integer)
        as recency_days,
    cast(coalesce(r.order_count, 0) as integer) as order_count,
    {{ stable("cast(coalesce(r.order_count, 0) as double) / greatest(least(t.days, " ~ var('history_days') ~ "), 30) * 30.4") }}
        as orders_per_month,
    {{ stable('coalesce(r.gross_revenue, 0)') }} as gross_revenue,
    {{ stable('coalesce(r.refunded_revenue, 0)') }} as refunded_revenue,
    {{ stable('coalesce(r.net_revenue, 0)') }} as net_revenue,
    {{ stable('coalesce(r.avg_order_value, 0)') }} as avg_order_value,
    {{ stable('coalesce(r.items_per_order, 0)') }} as items_per_order,
    {{ stable('coalesce(r.return_rate, 0)') }} as return_rate,
    case when coalesce(r.order_count, 0) >= 2 then 1 else 0 end as is_repeat_buyer,
    -- one order (or none): no gap yet, so the whole window stands in for "not again within it"
    {{ stable("coalesce(rh.mean_days_between_orders, " ~ var('history_days') ~ ")") }} as mean_days_between_orders,
    {{ stable('coalesce(rh.gap_variation, 0)') }} as gap_variation,
    {{ stable('coalesce(rh.spend_trend, 0)') }} as spend_trend,
    -- preferences
    coalesce(c.top_category, 'none') as top_category,
    cast(coalesce(c.categories_bought, 0) as integer) as categories_bought,
    {{ stable('coalesce(c.avg_price_rank, 0.5)') }} as avg_price_rank,
    {{ stable('coalesce(c.private_label_share, 0)') }} as private_label_share,
    {{ stable('coalesce(r.discounted_order_share, 0)') }} as discounted_order_share,
    {{ stable('coalesce(r.avg_discount_pct, 0)') }} as avg_discount_pct,
    -- channels and devices
    -- engagement
    -- all touch channels together; per channel in customer_features_wide
    cast(coalesce(e.touches_sent, 0) as integer) as touches_sent,
    {{ stable('coalesce(e.touch_open_rate, 0)') }} as touch_open_rate,
    {{ stable('coalesce(e.touch_click_rate, 0)') }} as touch_click_rate,
    {{ stable('coalesce(e.touch_conversion_rate, 0)') }} as touch_conversion_rate,
    cast(coalesce(e.sessions_30d, 0) as integer) as sessions_30d,
    {{ stable('coalesce(e.pages_per_session, 0)') }} as pages_per_session,
    {{ stable('coalesce(e.search_session_rate, 0)') }} as search_session_rate,
    {{ stable('coalesce(e.cart_session_rate, 0)') }} as cart_session_rate,
    {{ as_of_date() }} as as_of_date
from profile as p
inner join tenure as t on p.customer_id = t.customer_id
left join rfm as r on p.customer_id = r.customer_id
left join categories as c on p.customer_id = c.customer_id
left join engagement as e on p.customer_id = e.customer_id
left join rhythm as rh on p.customer_id = rh.customer_id
