"""Reports: the census (places per program and day) and the step-down board."""
