"""Traffic capture with mitmdump: the addon that runs inside mitmdump (``addon``), the process
that hosts it (``proxy``), the line protocol and resolve table they share (``protocol``), the
flow records it produces (``record``) and the HAR export of a run (``har``)."""
