"""OpenTelemetry for Greenscreen: names, setup at the edge, and the helpers code uses."""
