"""Farm runs: sessions queued over many devices, results in SQL, night-to-night diffs.

Each module has one job and one external library at most:

- :mod:`~harness.farm.spec`       a job (app, scenario, target, night) and ``apps.yaml``;
- :mod:`~harness.farm.runner`     one job through the same Session as ``consentry run``;
- :mod:`~harness.farm.store`      the result store (the only SQLAlchemy import);
- :mod:`~harness.farm.celery_app` queues, the task and the worker (the only Celery import);
- :mod:`~harness.farm.nightdiff`  tonight against the previous night, per app.
"""
