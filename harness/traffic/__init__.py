"""Finding personal values in traffic, however they are encoded (pure, offline).

exchange.py   HttpExchange, from_flow_event (events.jsonl), read_exchanges (HAR / mitmdump -w)
har.py, flowdump.py   the two capture file formats
compression.py, protobuf.py, decoders.py, jsonpaths.py   request -> searchable fragments
variants.py   every encoding of a known value (needles); automaton.py   the search index
matcher.py    ValueMatcher.scan(exchange) -> [Match]; recipients.py   host -> eTLD+1, tracker
values.py     the --values file of ``consentry traffic scan``
"""
