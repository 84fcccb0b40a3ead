-- One row per event_id, event type and device normalised.
with deduped as (
    {{ dedupe(source('raw', 'web_events'), 'event_id', 'event_ts') }}
)

select
    event_id,
    session_id,
    customer_id,
    event_ts,
    {{ normalise_code('event_type') }} as event_type,
    {{ normalise_code('device') }} as device
from deduped
