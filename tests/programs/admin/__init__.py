"""The programs admin (programs.admin, clinic.admin.BedAdmin): admissions through the service,
the enrollment actions and their intermediate pages with the services' messages, clinic scoping,
role permissions, audit rows, and program configuration with the level's defaults."""
