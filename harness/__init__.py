"""consentry: run-time evidence of what an Android app does with personal information.

The package is split by job: ``targets`` (where the app runs), ``instrument`` (the Frida
agent), ``capture`` (mitmdump), ``ui`` and ``scenario`` (driving the app), ``recorder``
(the evidence bundle) and ``analysis`` / ``report`` (pure, offline judgement of a bundle).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
