"""The FHIR R4 bundle of a disclosure (programs.fhir): validated with fhir.resources' R4B models,
labelled, carrying the §2.32 notice, and holding only the consented categories."""
