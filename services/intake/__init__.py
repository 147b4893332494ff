"""Intake: submissions (proposals, opinion items, cases) and their numbering."""
