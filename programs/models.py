# Programs, enrollments, waitlist and transitions arrive with the programs issue.
