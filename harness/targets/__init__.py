"""Where the app under test runs: ``android`` (a device over adb) or ``local`` (a process on
this host, used for the specimen app). Everything above :class:`~harness.targets.base.Target`
is the same code for both."""
