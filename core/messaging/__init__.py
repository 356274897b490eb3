"""The WhatsApp channel: inbound deliveries, the conversation, outbound messages, the outbox."""
