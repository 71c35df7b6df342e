"""Trained models: the registry (stored in the database) and the transaction detector."""
