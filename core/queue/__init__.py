"""The token engine: issuing, calling and the lifecycle of queue tokens."""
