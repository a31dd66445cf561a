"""The access walk: every operation of the OpenAPI schema × every kind of caller.

Clinic A holds the data (the demo's paths of care, plus an app account, a device, a reminder,
an alert); clinic B holds its staff, one patient with an app account, a program with her
waitlisted stay, a room, a series and a session, all with ids far above A's. For each operation
the matrix below says which callers may use it (README, "Endpoints and who may use them"), and:

- A's staff in an allowed role get neither 401, 403, 404 nor a server error (an empty body may
  well be a 400); in a forbidden role, 403.
- B's staff: an operation naming one of A's objects is 404 when their role may use it, else 403;
  a list shows none of A's rows.
- A patient's token: 403 on every staff operation; the patient's own ``me/`` works; B's patient
  naming A's session or device gets 404 and sees none of A's data in ``me/`` lists.
- Nobody logged in: 401 on everything that is not public.

An operation missing from the matrix fails the walk: a new endpoint must say who may use it.
Each request runs in a savepoint that is rolled back, so no request changes what the next sees.
"""
