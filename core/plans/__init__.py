"""Plans, subscriptions, usage metering and what a plan allows (SPEC §4 Admin and BI console)."""
