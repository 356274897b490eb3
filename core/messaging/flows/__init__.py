"""WhatsApp Flows: the data-endpoint crypto, signed flow tokens and the booking Flow's screens."""
