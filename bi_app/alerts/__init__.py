"""The alert center: rules, evaluation, lifecycle, silences, outbox and channels."""
