"""The admissions admin (patients.admin): clinic scoping, saves through the services with the
services' messages, audit rows for reads and lists, and role permissions."""
