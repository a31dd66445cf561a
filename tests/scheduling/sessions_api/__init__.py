"""Sessions, series, rosters and attendance over the API (API.md "Sessions, rosters, attendance";
DESIGN.md "Invariants", "API outer contract")."""
