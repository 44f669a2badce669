"""Export a run's ``flows.mitm`` to HAR 1.2 (``traffic.har`` in the evidence bundle).

mitmproxy's own ``SaveHar.make_har`` builds the document, so the HAR matches what
``mitmdump --set hardump=`` would write. Non-HTTP flows are skipped (HAR cannot hold them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mitmproxy import http, io
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.exceptions import FlowReadException

from harness.errors import InputError
from harness.files import write_atomic


def read_flows(flows_mitm: Path) -> list[http.HTTPFlow]:
    """The HTTP flows of a flow dump, in file order; InputError if it cannot be read."""
    try:
        with Path(flows_mitm).open("rb") as fo:
            flows = list(io.FlowReader(fo).stream())
    except FileNotFoundError as exc:
        raise InputError(f"{flows_mitm}: no such flow dump; expected the flows.mitm of a run "
                         "directory") from exc
    except OSError as exc:
        raise InputError(f"{flows_mitm}: cannot read it ({exc})") from exc
    except FlowReadException as exc:
        raise InputError(f"{flows_mitm}: not a mitmproxy flow dump or damaged ({exc}); "
                         "expected a file written by mitmdump -w or by consentry") from exc
    return [f for f in flows if isinstance(f, http.HTTPFlow)]


def make_har(flows: list[http.HTTPFlow]) -> dict[str, Any]:
    har: dict[str, Any] = SaveHar().make_har(flows)
    return har


def write_har(flows_mitm: Path, out: Path) -> int:
    """Write the HTTP flows of ``flows_mitm`` to ``out`` as HAR 1.2; return the entry count."""
    har = make_har(read_flows(flows_mitm))
    write_atomic(Path(out), json.dumps(har, indent=1, ensure_ascii=False))
    return len(har["log"]["entries"])
