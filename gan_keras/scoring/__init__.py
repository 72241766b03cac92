"""Scores for what a generator makes: a classifier trained here, and metrics on its outputs."""
