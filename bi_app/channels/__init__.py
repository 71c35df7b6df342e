"""External channel statistics: pluggable sources, each behind a circuit breaker, fetched in
parallel with a timeout; the last good value is served (with a notice) when a source fails."""
