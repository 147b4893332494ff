"""Supervision: deadlines, reminders, escalations."""
