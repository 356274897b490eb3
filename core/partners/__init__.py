"""Partners: API keys scoped to one clinic, their bookings, and patients' self-service links."""
