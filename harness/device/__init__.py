"""The Android device layer: pure command builders and output parsers (``commands``,
``parsers``) and the one module that imports adbutils (``adb``)."""
