"""Writes of the programs app (a package: enrollments and aftercare grew apart)."""
