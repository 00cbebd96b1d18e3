"""The readiness rules, one module per rule, grouped by what they look at."""
