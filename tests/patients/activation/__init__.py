"""The patient's app activation and revoked app access (API.md "The patient's app", issue 7)."""
