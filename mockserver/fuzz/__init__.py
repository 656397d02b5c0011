"""Fuzzing in both directions: the APIs with schemathesis, clients with chaos."""
