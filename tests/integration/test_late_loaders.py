"""Late class loaders on the real agent and a JVM: a dex-style loader hides its classes.

On ART, ``Class.forName`` and the VM's resolution of classes referenced from a dex-loaded
class go through ClassLinker's native fast path and never call Java ``loadClass``. The JVM
here gets the same shape from stubs with the real names: ``dalvik.system.DexClassLoader``
whose ``loadClass`` is its own (so ``ClassLoader.loadClass(String)`` never runs for it),
a plugin entry class obtained with ``Class.forName(name, true, loader)``, and an SDK class
(``Tracker``) only ever reached by resolution from the entry class. The agent must hook the
Tracker when the loader first hands out a class, without running its static initialiser.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.instrument import frida_adapter, stubgen
from harness.instrument.catalogue import CatalogueEntry, load_catalogue
from harness.instrument.protocol import decode
from harness.targets.base import FridaDeviceRef
from tests.integration.line_process import LineProcess

pytestmark = pytest.mark.integration

TRACKER = CatalogueEntry(id="test.dexplugin.Tracker.collectId",
                         class_name="com.example.dexplugin.Tracker", method="collectId",
                         overloads=None, category="device_id", data_type="plugin_id", params=())

SOURCES = {
    "dalvik/system/BaseDexClassLoader.java": """
package dalvik.system;

import java.io.File;
import java.nio.file.Files;

/** Like ART's BaseDexClassLoader seen from Java: the class path is a directory of classes,
 * and lookups never reach ClassLoader.loadClass(String) (ART's native fast path). */
public class BaseDexClassLoader extends ClassLoader {
    private final File dir;

    public BaseDexClassLoader(String dexPath, File optimizedDirectory, String librarySearchPath,
                              ClassLoader parent) {
        super(parent);
        this.dir = new File(dexPath);
    }

    @Override public Class<?> loadClass(String name) throws ClassNotFoundException {
        return loadClass(name, false);
    }

    @Override protected Class<?> loadClass(String name, boolean resolve)
            throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c != null) return c;
            try {
                return Class.forName(name, false, getParent());
            } catch (ClassNotFoundException e) {
                return findClass(name);
            }
        }
    }

    @Override protected Class<?> findClass(String name) throws ClassNotFoundException {
        File file = new File(dir, name.replace('.', '/') + ".class");
        if (!file.isFile()) throw new ClassNotFoundException(name);
        try {
            byte[] bytes = Files.readAllBytes(file.toPath());
            return defineClass(name, bytes, 0, bytes.length);
        } catch (java.io.IOException e) {
            throw new ClassNotFoundException(name, e);
        }
    }

    @Override public String toString() {
        return getClass().getName() + "[" + dir + "]";
    }
}
""",
    "dalvik/system/DexClassLoader.java": """
package dalvik.system;

public class DexClassLoader extends BaseDexClassLoader {
    public DexClassLoader(String dexPath, String optimizedDirectory, String librarySearchPath,
                          ClassLoader parent) {
        super(dexPath, null, librarySearchPath, parent);
    }
}
""",
    "com/example/host/Main.java": """
package com.example.host;

import java.io.BufferedReader;
import java.io.InputStreamReader;

public final class Main {
    static String state() {
        return "entry=" + System.getProperty("consentry.entry.clinit")
            + " tracker=" + System.getProperty("consentry.tracker.clinit");
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        System.out.println("READY");
        System.out.flush();
        Class<?> entry = null;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String reply;
            switch (line.trim()) {
                case "load": {
                    ClassLoader loader = new dalvik.system.DexClassLoader(
                        args[0], null, null, Main.class.getClassLoader());
                    entry = Class.forName("com.example.dexplugin.Entry", true, loader);
                    reply = state();
                    break;
                }
                case "call":
                    reply = entry.getMethod("run").invoke(null) + " " + state();
                    break;
                default:
                    continue;
            }
            System.out.println("DONE " + line.trim() + " " + reply);
            System.out.flush();
        }
    }
}
""",
}

PLUGIN = {
    "com/example/dexplugin/Entry.java": """
package com.example.dexplugin;

public final class Entry {
    static { System.setProperty("consentry.entry.clinit", "ran"); }

    public static String run() {
        return Tracker.collectId();
    }
}
""",
    "com/example/dexplugin/Tracker.java": """
package com.example.dexplugin;

public final class Tracker {
    /** Must run when the plugin first uses the Tracker, not when the agent finds it. */
    static { System.setProperty("consentry.tracker.clinit", "ran"); }

    public static String collectId() {
        return "plugin-id-42";
    }
}
""",
}


class Host(LineProcess):
    """The JVM host app: send a command, wait for its DONE line."""

    def __init__(self, classes: Path, plugin: Path) -> None:
        super().__init__(["java", "-cp", str(classes), "com.example.host.Main", str(plugin)],
                         "host")

    def command(self, name: str, timeout: float = 120) -> str:
        return super().command(name, timeout)


def _write(root: Path, sources: dict[str, str]) -> Path:
    for name, text in sources.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_class_resolved_inside_a_dex_loader_is_hooked_before_use_without_early_init(
        tmp_path: Path, jdk: str, agent_bundle: Any) -> None:
    classes = stubgen.compile_sources(_write(tmp_path / "src", SOURCES), tmp_path / "classes",
                                      javac=jdk)
    plugin = stubgen.compile_sources(_write(tmp_path / "plugin-src", PLUGIN),
                                     tmp_path / "plugin", javac=jdk)
    dex_init = load_catalogue().by_id()["dex.DexClassLoader.init"]
    host = Host(classes, plugin)
    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_message(message: dict[str, Any], data: bytes | None) -> None:
        with lock:
            events.extend({"type": r.type, **r.data} for r in decode(message, data))

    def flushed(until: str) -> list[dict[str, Any]]:
        """Flush the agent, then wait (a while) for an event of type ``until`` about the
        Tracker: the batch crosses from Frida's thread after the reply."""
        session.call("flush")
        deadline = time.monotonic() + 5
        while True:
            with lock:
                seen = list(events)
            if time.monotonic() > deadline or any(
                    e["type"] == until and e.get("entry") == TRACKER.id for e in seen):
                return seen
            time.sleep(0.05)

    session = frida_adapter.AgentSession(FridaDeviceRef(kind="local"), host.proc.pid)
    try:
        session.load(agent_bundle.source, on_message)
        coverage = session.call("init", [dex_init.to_agent(), TRACKER.to_agent()],
                                {"process": "dexhost", "native": False, "plaintext": False})
        assert coverage["installed"] == [dex_init.id]
        assert [s["id"] for s in coverage["skipped"]] == [TRACKER.id]

        loaded = host.command("load")
        after_load = flushed("agent.hook_installed")
        called = host.command("call")
        after_call = flushed("hook.call")
        alive = host.proc.poll() is None and session.detached_reason is None
    finally:
        session.detach()
        host.stop()

    # The Tracker was only ever resolved natively: the hook went in when the loader first
    # handed out a class (the entry, through Class.forName) and the agent probed it ...
    installs = [e for e in after_load if e["type"] == "agent.hook_installed"
                and e.get("entry") == TRACKER.id]
    assert len(installs) == 1, after_load
    assert installs[0]["late"] is True and installs[0]["trigger"] == "probe"
    assert installs[0]["loader"].startswith("dalvik.system.DexClassLoader[")
    # ... without running the Tracker's static initialiser (the entry's own ran: forName
    # was asked to initialise it).
    assert loaded == "DONE load entry=ran tracker=null"
    assert called == "DONE call plugin-id-42 entry=ran tracker=ran"

    calls = [e for e in after_call if e.get("entry") == TRACKER.id and "stack" in e]
    assert len(calls) == 1
    assert calls[0]["ret"] == "plugin-id-42" and calls[0]["process"] == "dexhost"
    assert any("com.example.dexplugin.Entry.run" in frame for frame in calls[0]["stack"])
    # The catalogue's own record of the loader's construction still works alongside.
    built = [e for e in after_load if e.get("entry") == dex_init.id and "stack" in e]
    assert built and str(plugin) in str(built[0]["args"])
    assert alive
