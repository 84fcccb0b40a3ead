-- One row per event_id (the load keeps each key once), event type and device normalised.
with loaded as (
    select * from {{ source('raw', 'web_events') }}
)

select
    event_id,
    session_id,
    customer_id,
    event_ts,
    {{ normalise_code('event_type') }} as event_type,
    {{ normalise_code('device') }} as device
from loaded
