"""The Android device layer.

``commands`` (pure builders of ``adb shell`` command lines) and ``parsers`` (pure parsers of
their output); ``shell`` (the small ``DeviceShell`` interface, device selection, root);
``adb`` (``AdbutilsDevice``, the only module importing adbutils); ``cacert`` (trust the proxy
CA), ``frida_server`` (check/start frida-server), ``groundtruth`` (the device's own personal
values).
"""
