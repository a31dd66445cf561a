"""A stand-in for the FHIR R4 bundle builder (issue 22's FHIR part replaces this module): it
returns the Bundle's outer shape with the Consent that permitted the disclosure, so that the
disclosure endpoints work and are tested against the builder's interface."""


def disclosure_bundle(disclosure) -> dict:
    """The FHIR R4 Bundle of what ``disclosure`` sent: a JSON-ready dict."""
    consent = disclosure.consent
    return {
        "resourceType": "Bundle",
        "type": "document",
        "timestamp": disclosure.disclosed_at.isoformat(),
        "entry": [
            {
                "fullUrl": f"urn:continuum:consent:{consent.pk}",
                "resource": {
                    "resourceType": "Consent",
                    "id": str(consent.pk),
                    "status": "active",
                },
            }
        ],
    }
