"""Model serving: endpoints, routing, micro-batching, capture to inference tables."""
