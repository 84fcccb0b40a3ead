-- depends_on: {{ customer_build_inputs() }}
-- Response to marketing (over the year of touches), all channels together and per touch channel
-- the data has (top_touch_channels), and on-site engagement (over the 30 days of web events).
{%- set touch_channels = top_touch_channels() %}
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['marketing_touches', 'web_events'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build([top_touch_channels()] if stages_incrementally() else []) }}") }}
{%- set changed_only = rebuilds_changed_customers([touch_channels]) %}
with touches as (
    select
        customer_id,
        count(*) as touches,
        sum(case when opened then 1 else 0 end) as opened,
        sum(case when clicked then 1 else 0 end) as clicked,
        sum(case when converted then 1 else 0 end) as conversions
        {%- for value, slug in touch_channels %}
        {%- set is_channel = "channel = " ~ text_literal(value) %},
        sum(case when {{ is_channel }} then 1 else 0 end) as {{ slug }}_touches,
        sum(case when {{ is_channel }} and opened then 1 else 0 end) as {{ slug }}_opened,
        sum(case when {{ is_channel }} and clicked then 1 else 0 end) as {{ slug }}_clicked
        {%- endfor %}
    from {{ for_customers(ref('stg_marketing__touches'), changed_only) }} as touches
    group by customer_id
),

sessions as (
    select
        customer_id,
        session_id,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        max(case when event_type = 'search' then 1 else 0 end) as searched,
        max(case when event_type = 'add_to_cart' then 1 else 0 end) as added_to_cart
    from {{ for_customers(ref('stg_web__events'), changed_only) }} as events
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
    coalesce(t.touches, 0) as touches_sent,
    {{ safe_ratio('t.opened', 't.touches') }} as touch_open_rate,
    {{ safe_ratio('t.clicked', 't.touches') }} as touch_click_rate,
    {{ safe_ratio('t.conversions', 't.touches') }} as touch_conversion_rate,
    {%- for value, slug in touch_channels %}
    coalesce(t.{{ slug }}_touches, 0) as {{ slug }}_touches,
    {{ safe_ratio('t.' ~ slug ~ '_opened', 't.' ~ slug ~ '_touches') }} as {{ slug }}_open_rate,
    {{ safe_ratio('t.' ~ slug ~ '_clicked', 't.' ~ slug ~ '_touches') }} as {{ slug }}_click_rate,
    {%- endfor %}
    coalesce(w.sessions_30d, 0) as sessions_30d,
    coalesce(w.pages_per_session, 0) as pages_per_session,
    coalesce(w.search_session_rate, 0) as search_session_rate,
    coalesce(w.cart_session_rate, 0) as cart_session_rate
from touches as t
full outer join web as w on t.customer_id = w.customer_id
