"""Live video: sources and sinks by URI, the threaded pipeline, per-stage latency statistics."""
