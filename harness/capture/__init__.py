"""Traffic capture with mitmdump: the addon that runs inside mitmdump (``addon``), the process
that hosts it (``proxy``) and the flow records it produces (``record``)."""
