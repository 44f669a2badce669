"""Driving an app's UI: the ``UiDriver`` protocol, window hierarchies, consent-dialog detection.

Only ``u2.py`` imports uiautomator2; scenarios and the session see only ``UiDriver``.
"""
