"""Schedules: off until turned on in the UI (Overview > Schedules); the daemon started by `make ui` runs them."""

import dagster as dg

from orchestration.defs.automation import jobs

TIMEZONE = "Europe/London"

daily_scoring = dg.ScheduleDefinition(
    name="daily_scoring",
    job=jobs.score_customers,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every day at 06:00 London time: rebuild features and score customers with the current model.",
)

weekly_refit = dg.ScheduleDefinition(
    name="weekly_refit",
    job=jobs.segment_customers,
    cron_schedule="0 3 * * 1",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Mondays at 03:00 London time: refit the segmentation and republish profiles.",
)
