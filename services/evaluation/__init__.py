"""Evaluation: outcomes, ratings, scores and points."""
