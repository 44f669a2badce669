"""UI scenarios: the YAML format (``model``, ``loader``) and the step runner (``runner``)."""
