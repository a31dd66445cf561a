"""The organisation: clinics, staff and roles, rooms and beds, the audit trail, staff alerts and
the notification channels every app sends through.

Besides the usual shape (``models``, ``services/``, ``selectors``, ``tasks``, ``admin``,
``api/{serializers,views,urls}.py``), clinic holds what the other apps share: the audit trail's
``audit_record*`` (``services/__init__.py``, the one way every app writes an audit row), the
API's plumbing in ``api/`` (the one exception handler in ``errors.py``, pagination,
permissions, conditional requests, ``utils.py``, ``rows.py`` for lists read as rows), the
admin's pieces in ``admin_utils.py`` (service-backed forms, ``ClinicScopedAdmin``, the audited
autocomplete view), ``errors.py`` (service errors and the model constraint behind a database
refusal), ``sql.py`` (hand-written statements named through the models' ``_meta``) and
``notifications/``. ``services/`` also holds the alert e-mails (``alert_delivery``) and token
revocation and refresh (``tokens``).
"""
