"""Writes of the programs app (a package: enrollments, aftercare, continuity, and in schedules
the calendar's program rules that scheduling asks through scheduling.program_rules)."""
