-- One row per event_id (each source's load keeps a key once; across sources the newest export wins), event type and device normalised.
with loaded as (
    {{ dedupe(source('raw', 'web_events'), 'event_id', newest_export_first()) }}
)

select
    event_id,
    session_id,
    customer_id,
    event_ts,
    {{ normalise_code('event_type') }} as event_type,
    {{ normalise_code('device') }} as device
from loaded
