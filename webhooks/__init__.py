"""WhatsApp webhooks (inbound messages, statuses, Flows); the routes arrive with their issue."""
