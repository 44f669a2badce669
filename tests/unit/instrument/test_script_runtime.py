"""The runtime the agent is loaded on reaches Frida, and a build without it is a clear error.
Glue only: a stand-in for the Frida session (the real runtimes run in
tests/integration/test_children.py)."""

from __future__ import annotations

from typing import Any

import frida
import pytest

from harness.errors import InstrumentationError
from harness.instrument.frida_adapter import AgentSession


class Script:
    def on(self, signal: str, handler: Any) -> None:
        pass

    def load(self) -> None:
        pass


class Session:
    def __init__(self, available: set[str]) -> None:
        self.available = available
        self.asked: list[str] = []

    def create_script(self, source: str, *, name: str, runtime: str) -> Script:
        self.asked.append(runtime)
        if runtime not in self.available:
            raise frida.NotSupportedError(
                f"{runtime.upper()} runtime not available due to build configuration")
        return Script()


def _agent(available: set[str]) -> tuple[AgentSession, Session]:
    agent = AgentSession.__new__(AgentSession)
    agent.pid = 42
    session = Session(available)
    agent._session = session
    agent.script_runtime = None
    return agent, session


@pytest.mark.parametrize("runtime", ["qjs", "v8"])
def test_the_runtime_asked_for_is_used_and_remembered(runtime: str) -> None:
    agent, session = _agent({"qjs", "v8"})
    agent.load("send(1)", lambda message, data: None, runtime=runtime)
    assert (agent.script_runtime, session.asked) == (runtime, [runtime])


def test_quickjs_is_the_default() -> None:
    agent, session = _agent({"qjs", "v8"})
    agent.load("send(1)", lambda message, data: None)
    assert session.asked == ["qjs"]


def test_a_build_without_the_runtime_is_an_instrumentation_error() -> None:
    agent, _ = _agent({"qjs"})
    with pytest.raises(InstrumentationError, match=r"pid 42 \(v8\).*not supported here"):
        agent.load("send(1)", lambda message, data: None, runtime="v8")
    assert agent.script_runtime is None
