"""The organisation: clinics, staff and roles, rooms and beds, the audit trail, staff alerts and
the notification channels every app sends through.

Besides the usual shape (``models``, ``services``, ``selectors``, ``tasks``, ``admin``,
``api/{serializers,views,urls}.py``), clinic holds what the other apps share: the API's plumbing
in ``api/`` (the one exception handler in ``errors.py``, pagination, permissions, conditional
requests, ``utils.py``), the admin's pieces in ``admin_utils.py`` (service-backed forms,
``ClinicScopedAdmin``, the audited autocomplete view), ``errors.py`` (service errors and the
model constraint behind a database refusal) and ``notifications/``.
"""
