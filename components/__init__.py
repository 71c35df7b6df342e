"""Layout builders: pure functions from data to Dash components."""
