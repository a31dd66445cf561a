"""Patients, their contacts, consents and assessments, the level-of-care recommendation
(``recommendation.py``) and the patient's app account (``activation.py``).

Writes in ``services.py``, reads in ``selectors.py``, the admissions admin in ``admin.py``, the
API in ``api/`` (one ``urls.py``: patients, assessments, activation, ``me/``, the SMS webhook).
``hooks.py`` is the interface scheduling registers to react to patients' writes.
"""
