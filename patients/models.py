# Patients, contacts, consents and assessments arrive with the intake issue.
