"""The Frida agent: building it (``agent_build``), the catalogue it hooks (``catalogue``), its
message protocol (``protocol``) and the one module that imports frida (``frida_adapter``)."""
