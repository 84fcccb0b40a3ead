-- Response to marketing (per channel, over the year of touches) and on-site
-- engagement (over the 30 days of web events).
with touches as (
    select
        customer_id,
        sum(case when channel = 'email' then 1 else 0 end) as emails_sent,
        sum(case when channel = 'email' and opened then 1 else 0 end) as emails_opened,
        sum(case when channel = 'email' and clicked then 1 else 0 end) as emails_clicked,
        sum(case when channel = 'sms' then 1 else 0 end) as sms_sent,
        sum(case when channel = 'sms' and clicked then 1 else 0 end) as sms_clicked,
        sum(case when channel = 'push' then 1 else 0 end) as push_sent,
        sum(case when channel = 'push' and opened then 1 else 0 end) as push_opened,
        count(*) as touches,
        sum(case when converted then 1 else 0 end) as conversions
    from {{ ref('stg_marketing__touches') }}
    group by customer_id
),

sessions as (
    select
        customer_id,
        session_id,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        max(case when event_type = 'search' then 1 else 0 end) as searched,
        max(case when event_type = 'add_to_cart' then 1 else 0 end) as added_to_cart
    from {{ ref('stg_web__events') }}
    group by customer_id, session_id
),

web as (
    select
        customer_id,
        count(*) as sessions_30d,
        cast(sum(page_views) as double) / count(*) as pages_per_session,
        cast(sum(searched) as double) / count(*) as search_session_rate,
        cast(sum(added_to_cart) as double) / count(*) as cart_session_rate
    from sessions
    group by customer_id
)

select
    coalesce(t.customer_id, w.customer_id) as customer_id,
    coalesce(t.emails_sent, 0) as emails_sent,
    {{ safe_ratio('t.emails_opened', 't.emails_sent') }} as email_open_rate,
    {{ safe_ratio('t.emails_clicked', 't.emails_sent') }} as email_click_rate,
    {{ safe_ratio('t.sms_clicked', 't.sms_sent') }} as sms_click_rate,
    {{ safe_ratio('t.push_opened', 't.push_sent') }} as push_open_rate,
    {{ safe_ratio('t.conversions', 't.touches') }} as touch_conversion_rate,
    coalesce(w.sessions_30d, 0) as sessions_30d,
    coalesce(w.pages_per_session, 0) as pages_per_session,
    coalesce(w.search_session_rate, 0) as search_session_rate,
    coalesce(w.cart_session_rate, 0) as cart_session_rate
from touches as t
full outer join web as w on t.customer_id = w.customer_id
