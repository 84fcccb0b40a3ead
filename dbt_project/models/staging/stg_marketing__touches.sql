-- One row per touch_id (the load keeps each key once), channel normalised.
with loaded as (
    select * from {{ source('raw', 'marketing_touches') }}
)

select
    touch_id,
    customer_id,
    {{ normalise_code('channel') }} as channel,
    sent_at,
    coalesce(opened, false) as opened,
    coalesce(clicked, false) as clicked,
    coalesce(converted, false) as converted
from loaded
