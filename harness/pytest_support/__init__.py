"""The parts of the pytest plugin (``harness.pytest_plugin``) that are plain library code.

``steps`` builds scenarios in Python, ``apps`` says which app runs on which target,
``result`` wraps one finished session for assertions, ``runner`` runs sessions for a test.
None of them imports pytest, so they can be used (and tested) outside a pytest run.
"""

from harness.pytest_support.apps import AndroidApp, AppUnderTest, LocalApp, SpecimenApp
from harness.pytest_support.result import ConsentryRun, RunIncomplete
from harness.pytest_support.runner import Consentry, ScenarioLike
from harness.pytest_support.steps import Steps, steps

__all__ = ["AndroidApp", "AppUnderTest", "Consentry", "ConsentryRun", "LocalApp",
           "RunIncomplete", "ScenarioLike", "SpecimenApp", "Steps", "steps"]
