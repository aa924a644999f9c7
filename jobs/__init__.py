"""Time-driven work: feed polling, detection, alert delivery."""
