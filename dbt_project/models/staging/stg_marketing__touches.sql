-- One row per touch_id, channel normalised.
with deduped as (
    {{ dedupe(source('raw', 'marketing_touches'), 'touch_id', 'sent_at') }}
)

select
    touch_id,
    customer_id,
    {{ normalise_code('channel') }} as channel,
    sent_at,
    coalesce(opened, false) as opened,
    coalesce(clicked, false) as clicked,
    coalesce(converted, false) as converted
from deduped
