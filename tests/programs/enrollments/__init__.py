"""Programs and enrollments (API.md "Programs and enrollments"; DESIGN.md "Invariants")."""
