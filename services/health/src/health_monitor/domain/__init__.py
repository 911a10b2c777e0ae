"""The health service's rules, free of I/O: scoring, lag evaluation, source tallies, alerting."""
