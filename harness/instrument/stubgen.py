"""Java stubs and a driver generated from the hook catalogue, to prove every entry on a JVM.

For each catalogued class that is not a JDK class, a stub with the same name and the entry's
signature returns a recognisable value (:func:`stub_value`); a driver in a third-party-looking
package (``com.example.sdkprobe.Driver``) calls every entry once, with arguments that satisfy its
``when`` conditions. JDK classes (``java.*``) are never stubbed: the driver calls the real ones
(:data:`JDK_CALLS`). :class:`Expected` says what the agent must record for each entry.

Driver protocol (stdin commands, stdout replies): it prints ``READY``, then runs a phase for each
line it reads: ``all`` (every entry), ``reflect`` (one entry through Method.invoke), ``late``
(load the late classes through a new URLClassLoader and call them), ``quit``. Each phase ends
with ``DONE <phase> <failures>``; a call that throws prints ``FAIL <id> <exception>``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, ToolchainError
from harness.instrument.catalogue import CatalogueEntry

DRIVER = "com.example.sdkprobe.Driver"
PRIMITIVES = {"int", "long", "float", "double", "boolean", "short", "byte", "char", "void"}
ANY = object()
"""Expected value that is not predictable (a real JDK call); only its presence is checked."""


@dataclass(frozen=True, slots=True)
class JdkCall:
    code: str
    """Java statements calling the real JDK API (may use the local ``tmp``, a File)."""
    ret: Any = ANY
    args: dict[int, Any] = field(default_factory=dict)
    this: Any = None


_LOOP = "127.0.0.1"
_SERVER = ("java.net.ServerSocket server = new java.net.ServerSocket(0, 1, "
           'java.net.InetAddress.getByName("127.0.0.1"))')
_CLIENT = 'java.net.Socket s = new java.net.Socket("127.0.0.1", server.getLocalPort())'
#: How the driver calls catalogued JDK methods, and what the agent must then record.
JDK_CALLS: dict[str, JdkCall] = {
    "net.NetworkInterface.getHardwareAddress":
        JdkCall('java.net.NetworkInterface.getByName("lo").getHardwareAddress();'),
    "net.Inet4Address.getHostAddress": JdkCall(
        "java.net.InetAddress.getByAddress(new byte[]{127, 0, 0, 1}).getHostAddress();",
        ret=_LOOP),
    "net.Inet6Address.getHostAddress": JdkCall(
        'java.net.InetAddress.getByName("::1").getHostAddress();', ret="0:0:0:0:0:0:0:1"),
    "net.Inet4Address.getAddress": JdkCall(
        "java.net.InetAddress.getByAddress(new byte[]{127, 0, 0, 1}).getAddress();",
        ret="7f000001"),
    "net.InetAddress.getAllByName": JdkCall(
        'java.net.InetAddress.getAllByName("localhost");', args={0: "localhost"}),
    "net.InetAddress.getByName": JdkCall(
        'java.net.InetAddress.getByName("127.0.0.1");', args={0: _LOOP}),
    "net.InetAddress.getHostName": JdkCall(
        'java.net.InetAddress.getByAddress("probe.local", new byte[]{127, 0, 0, 1})'
        ".getHostName();", ret="probe.local"),
    "net.InetAddress.getLocalHost": JdkCall("java.net.InetAddress.getLocalHost();"),
    "net.InetSocketAddress.getAddress": JdkCall(
        'new java.net.InetSocketAddress("127.0.0.1", 9).getAddress();'),
    "net.InetSocketAddress.getHostName": JdkCall(
        'java.net.InetSocketAddress.createUnresolved("probe.local", 9).getHostName();',
        ret="probe.local"),
    "net.NetworkInterface.getNetworkInterfaces":
        JdkCall("java.net.NetworkInterface.getNetworkInterfaces();"),
    "net.NetworkInterface.getInetAddresses":
        JdkCall('java.net.NetworkInterface.getByName("lo").getInetAddresses();'),
    "net.URL.openConnection": JdkCall(
        'new java.net.URL("http://127.0.0.1:9/probe").openConnection();',
        this="http://127.0.0.1:9/probe"),
    "net.URL.init": JdkCall('new java.net.URL("http://127.0.0.1:9/url");',
                            args={0: "http://127.0.0.1:9/url"}),
    "net.URI.init": JdkCall('new java.net.URI("http://127.0.0.1:9/uri");',
                            args={0: "http://127.0.0.1:9/uri"}),
    "net.Socket.connect": JdkCall(
        f"try ({_SERVER}; java.net.Socket s = new java.net.Socket()) "
        "{ s.connect(server.getLocalSocketAddress()); }"),
    "net.Socket.init": JdkCall(
        f"try ({_SERVER}; {_CLIENT}) {{ }}", args={0: _LOOP}),
    "net.SocketOutputStream.socketWrite0": JdkCall(
        f"try ({_SERVER}; {_CLIENT}) "
        "{ s.getOutputStream().write(new byte[]{1, 2, 3}); }",
        args={2: 0, 3: 3}),
    "file.mkdir": JdkCall('new java.io.File(tmp, "probe-mkdir").mkdir();'),
    "file.mkdirs": JdkCall('new java.io.File(tmp, "probe-mkdirs/a/b").mkdirs();'),
    "file.getFreeSpace": JdkCall("tmp.getFreeSpace();"),
    "file.getTotalSpace": JdkCall("tmp.getTotalSpace();"),
    "file.getUsableSpace": JdkCall("tmp.getUsableSpace();"),
    "file.RandomAccessFile.init": JdkCall(
        'new java.io.RandomAccessFile(new java.io.File(tmp, "probe.raf").getPath(), "rw").close();',
        args={1: "rw"}),
    "file.FileOutputStream.write": JdkCall(
        'try (java.io.FileOutputStream out = new java.io.FileOutputStream(new java.io.File(tmp, '
        '"probe.bin"))) { out.write(new byte[]{1, 2, 3}); }'),
    "shell.ProcessBuilder.start":
        JdkCall('new ProcessBuilder("true").start().waitFor();'),
    "shell.Runtime.exec": JdkCall('Runtime.getRuntime().exec(new String[]{"true"}).waitFor();'),
    "native.Runtime.loadLibrary": JdkCall(
        'try { System.loadLibrary("consentry_probe_absent"); } catch (UnsatisfiedLinkError e) { }',
        args={1: "consentry_probe_absent"}),
    "native.Runtime.load": JdkCall(
        'try { System.load("/nonexistent/libconsentry_probe.so"); } '
        "catch (UnsatisfiedLinkError e) { }", args={1: "/nonexistent/libconsentry_probe.so"}),
    "digest.update": JdkCall(
        'java.security.MessageDigest.getInstance("MD5").update("probe".getBytes());'),
    "digest.digest": JdkCall(
        'java.security.MessageDigest.getInstance("MD5").digest("probe".getBytes());',
        ret=hashlib.md5(b"probe").hexdigest()),
    "cipher.doFinal": JdkCall(
        'javax.crypto.Cipher c = javax.crypto.Cipher.getInstance("AES/ECB/PKCS5Padding"); '
        'c.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec('
        'new byte[16], "AES")); c.doFinal("probe".getBytes());'),
    "cipher.SecretKeySpec.init": JdkCall(
        'new javax.crypto.spec.SecretKeySpec(new byte[16], "AES");', args={1: "AES"}),
}


def is_jdk(class_name: str) -> bool:
    return class_name.startswith(("java.", "javax."))


def _key(entry: CatalogueEntry) -> str:
    return f"{entry.class_name}.{entry.method}"


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def stub_value(entry: CatalogueEntry) -> Any:
    """The value a stub method returns, as Python (shared by every entry on that method)."""
    kind = entry.return_type
    key = _key(entry)
    n = _crc(key)
    if kind in ("int", "long", "short"):
        return 1000 + n % 9000
    if kind in ("float", "double"):
        return 10 + (n % 800) / 8
    if kind == "boolean":
        return True
    if kind == "byte[]":
        return [2] + [(n >> s) & 0xFF for s in (0, 8, 16, 24)] + [0x5A]
    return f"stub:{key}"


def _java_literal(value: Any, kind: str) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("int", "short"):
        return f"({kind}) {value}" if kind == "short" else str(value)
    if kind == "long":
        return f"{value}L"
    if kind == "float":
        return f"{value}f"
    if kind == "double":
        return repr(float(value))
    if kind == "byte[]":
        return "new byte[]{" + ", ".join(f"(byte) {b}" for b in value) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _source_name(java_type: str) -> str:
    return java_type.replace("$", ".")


def _base(java_type: str) -> str:
    return java_type.removesuffix("[]").removesuffix("[]")


def _return_expr(entry: CatalogueEntry) -> str | None:
    """A Java expression for the stub's return value (None: void)."""
    kind = entry.return_type
    value = stub_value(entry)
    if kind == "void":
        return None
    if kind in PRIMITIVES or kind == "byte[]":
        if entry.format == "permission_result":
            return "0"
        return _java_literal(value, kind)
    text = _java_literal(value, "java.lang.String")
    base = _base(kind)
    if kind in ("java.lang.String", "java.lang.CharSequence", "java.lang.Object"):
        return text
    if kind == "java.lang.String[]":
        return "new java.lang.String[]{" + text + "}"
    if kind in ("java.util.List", "java.util.Collection"):
        return f"java.util.List.of({text})"
    if kind == "java.util.Set":
        return f"java.util.Set.of({text})"
    if kind == "java.util.Map":
        return f'java.util.Map.of("k", {text})'
    if kind == "java.io.File":
        return f"new java.io.File({text})"
    if is_jdk(base):
        return "null"
    src = _source_name(base)
    if kind.endswith("[]"):
        return f"new {src}[]{{{src}.consentryTagged({text})}}"
    return f"{src}.consentryTagged({text})"


def _expected_ret(entry: CatalogueEntry) -> Any:
    kind = entry.return_type
    value = stub_value(entry)
    if entry.format == "none" or kind == "void":
        return None
    if entry.format == "permission_result":
        return "granted"
    if entry.format == "ipv4_int":
        return ".".join(str((int(value) >> s) & 0xFF) for s in (0, 8, 16, 24))
    if entry.format in ("bytes_hex", "bytes_mac"):
        return (":" if entry.format == "bytes_mac" else "").join(f"{b:02x}" for b in value)
    if entry.format == "location":
        return {"lat": _location_getter("getLatitude"), "lon": _location_getter("getLongitude")}
    if entry.format in ("package_list",) or kind.endswith("[]"):
        return [value]
    if kind in ("java.util.List", "java.util.Set", "java.util.Collection"):
        return f"[{value}]"
    if kind == "java.util.Map":
        return f"{{k={value}}}"
    if is_jdk(_base(kind)) and kind not in ("java.lang.String", "java.lang.CharSequence",
                                            "java.lang.Object", "java.io.File"):
        return None
    return value


def _location_getter(method: str) -> Any:
    probe = CatalogueEntry(id="", class_name="android.location.Location", method=method,
                           overloads=None, category="", data_type="", returns="double")
    return stub_value(probe)


@dataclass(frozen=True, slots=True)
class Expected:
    """What the agent must record for one entry's driver call."""

    event: str
    category: str
    data_type: str
    ret: Any
    """``ANY`` when the value is a real JDK result that cannot be predicted."""
    args: dict[int, Any]
    """Recorded arguments that must have these values (by index)."""
    this: Any = None


@dataclass(slots=True)
class _Method:
    name: str
    params: tuple[str, ...]
    returns: str
    static: bool
    body: str | None
    entry_id: str


@dataclass(slots=True)
class _Class:
    name: str
    methods: dict[tuple[str, tuple[str, ...]], _Method] = field(default_factory=dict)
    nested: dict[str, _Class] = field(default_factory=dict)
    extra: str = ""


# Support methods the agent's formatters call on returned objects (values.ts).
_SUPPORT = {
    "android.location.Location": "",
    "android.content.ClipData": (
        "    public int getItemCount() { return 1; }\n"
        "    public Item getItemAt(int index) { return Item.consentryTagged(consentryTag); }\n"),
    "android.content.ClipData$Item": (
        "    public java.lang.CharSequence getText() { return consentryTag; }\n"),
}


@dataclass(slots=True)
class StubProject:
    root: Path
    """Sources of the stubs and the driver (compile them together)."""
    late_root: Path
    """Sources of classes loaded later through a separate class loader."""
    expected: dict[str, Expected]
    uncallable: list[str]
    """JDK entries the driver has no call for (they cannot be proven on this JVM)."""
    reflective_id: str | None
    driver_methods: dict[str, str]
    """Entry id -> the driver method that calls it (its stack frame is the caller)."""


def _arg_expr(java_type: str, example: str | None) -> str:
    if java_type == "java.lang.String":
        return _java_literal(example if example is not None else "probe", java_type)
    if java_type in PRIMITIVES:
        if example is not None:
            return example
        return {"boolean": "true", "long": "1L", "float": "1f", "double": "1.0",
                "short": "(short) 1", "byte": "(byte) 1", "char": "'a'"}.get(java_type, "1")
    arrays = {"java.lang.String[]": 'new java.lang.String[]{"android.permission.READ_PHONE_STATE"}',
              "int[]": "new int[]{1}", "byte[]": "new byte[]{1, 2, 3}", "float[]": "new float[2]"}
    if java_type in arrays:
        return arrays[java_type]
    if java_type in ("java.util.List", "java.util.ArrayList"):
        return "new java.util.ArrayList<>()"
    if is_jdk(_base(java_type)) or java_type.endswith("[]"):
        return "null"
    text = _java_literal(example if example is not None else "arg", "java.lang.String")
    return f"{_source_name(java_type)}.consentryTagged({text})"


def _call(entry: CatalogueEntry) -> str:
    params = entry.signatures()[0]
    examples: dict[int, str] = {c.arg: c.example() for c in entry.when}
    args = ", ".join(_arg_expr(t, examples.get(i)) for i, t in enumerate(params))
    src = _source_name(entry.class_name)
    if entry.method == "$init":
        return f"new {src}({args});"
    receiver = src if entry.static else f"{src}.consentryTagged(\"receiver\")"
    return f"{receiver}.{entry.method}({args});"


def _expected(entry: CatalogueEntry) -> Expected:
    if is_jdk(entry.class_name):
        call = JDK_CALLS[entry.id]
        return Expected(entry.event, entry.category, entry.data_type, call.ret, dict(call.args),
                        call.this)
    params = entry.signatures()[0]
    args: dict[int, Any] = {c.arg: c.example() for c in entry.when}
    if entry.event == "consent.signal":
        for i, kind in enumerate(params):
            if kind == "boolean" and (entry.record_args is None or i in entry.record_args):
                args[i] = True
    return Expected(entry.event, entry.category, entry.data_type, _expected_ret(entry), args)


def _tree(entries: Sequence[CatalogueEntry], referenced: set[str]) -> dict[str, _Class]:
    tops: dict[str, _Class] = {}

    def node(name: str) -> _Class:
        outer, *inner = name.split("$")
        current = tops.setdefault(outer, _Class(outer))
        path = outer
        for part in inner:
            path = f"{path}${part}"
            current = current.nested.setdefault(part, _Class(path))
        return current

    for name in sorted(referenced):
        node(name)
    for entry in entries:
        klass = node(entry.class_name)
        for params in entry.signatures():
            key = (entry.method, params)
            method = _Method(entry.method, params, entry.return_type, entry.static,
                             _return_expr(entry), entry.id)
            known = klass.methods.get(key)
            if known is not None and (known.returns, known.static) != (method.returns,
                                                                       method.static):
                raise ConfigError(
                    f"{entry.source}: {entry.id} declares {entry.class_name}.{entry.method}"
                    f"({', '.join(params)}) as {method.returns}"
                    f"{' static' if method.static else ''}, but {known.entry_id} declares "
                    f"{known.returns}{' static' if known.static else ''}; make them agree")
            klass.methods.setdefault(key, method)
    for name, extra in _SUPPORT.items():
        if name.split("$")[0] in tops:
            node(name).extra = extra
    return tops


def _render(klass: _Class, indent: str, top: bool) -> str:
    simple = klass.name.rsplit("$", 1)[-1].rsplit(".", 1)[-1]
    out = [f"{indent}public {'' if top else 'static '}class {simple} {{"]
    body = indent + "    "
    out.append(f"{body}public java.lang.String consentryTag;")
    has_default = any(m.name == "$init" and not m.params for m in klass.methods.values())
    if not has_default:
        out.append(f"{body}public {simple}() {{ }}")
    out.append(f"{body}public static {simple} consentryTagged(java.lang.String tag) "
               f"{{ {simple} o = new {simple}(); o.consentryTag = tag; return o; }}")
    if ("toString", ()) not in klass.methods:
        out.append(f"{body}@Override public java.lang.String toString() {{ return consentryTag "
                   f"!= null ? consentryTag : \"stub:{klass.name}\"; }}")
    for method in klass.methods.values():
        params = ", ".join(f"{_source_name(t)} p{i}" for i, t in enumerate(method.params))
        if method.name == "$init":
            out.append(f"{body}public {simple}({params}) {{ }}")
            continue
        static = "static " if method.static else ""
        ret = _source_name(method.returns)
        stmt = f"return {method.body};" if method.body is not None else ""
        out.append(f"{body}public {static}{ret} {method.name}({params}) {{ {stmt} }}")
    if klass.extra:
        out.append(klass.extra.replace("    ", body, 1).rstrip("\n"))
    for nested in klass.nested.values():
        out.append(_render(nested, body, False))
    out.append(f"{indent}}}")
    return "\n".join(out)


def _referenced(entries: Sequence[CatalogueEntry]) -> set[str]:
    names: set[str] = set()
    for entry in entries:
        types = [t for params in entry.signatures() for t in params] + [entry.return_type]
        for kind in types:
            base = _base(kind)
            if base not in PRIMITIVES and not is_jdk(base):
                names.add(base)
        if entry.format == "clip":
            names.add("android.content.ClipData$Item")
    return names


def _write_classes(tops: dict[str, _Class], root: Path) -> None:
    for name, klass in tops.items():
        package, _, _ = name.rpartition(".")
        path = root / Path(*name.split(".")).with_suffix(".java")
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"package {package};\n\n" if package else ""
        path.write_text(f"// Generated by consentry stubgen from the hook catalogue.\n{header}"
                        + _render(klass, "", True) + "\n", encoding="utf-8")


def _driver(callable_: list[CatalogueEntry], late: Sequence[CatalogueEntry],
            reflective: CatalogueEntry | None) -> str:
    methods, calls = [], []
    for i, entry in enumerate(callable_):
        code = JDK_CALLS[entry.id].code if is_jdk(entry.class_name) else _call(entry)
        methods.append(f"    static void e{i}(java.io.File tmp) throws Throwable {{ {code} }}")
        calls.append(f'        failures += run("{entry.id}", () -> e{i}(tmp));')
    reflect = "        // no reflective entry\n"
    if reflective is not None:
        src = _source_name(reflective.class_name)
        target = "null" if reflective.static else f'{src}.consentryTagged("receiver")'
        reflect = (f'        failures += run("{reflective.id}", () -> {src}.class.getMethod('
                   f'"{reflective.method}").invoke({target}));\n')
    late_calls = "".join(
        f'        failures += run("{e.id}", () -> {{'
        f' Class<?> c = loader.loadClass("{e.class_name}");'
        f' Object o = c.getConstructor().newInstance();'
        f' c.getMethod("{e.method}").invoke({"null" if e.static else "o"});'
        " });\n"
        for e in late)
    return f"""// Generated by consentry stubgen: calls every catalogue entry once, after a gate.
package com.example.sdkprobe;

public final class Driver {{
    interface Call {{ void run() throws Throwable; }}

    static int run(String id, Call call) {{
        try {{
            call.run();
            return 0;
        }} catch (Throwable t) {{
            Throwable cause = t instanceof java.lang.reflect.InvocationTargetException
                ? t.getCause() : t;
            System.out.println("FAIL " + id + " " + cause);
            return 1;
        }}
    }}

{chr(10).join(methods)}

    static int all(java.io.File tmp) {{
        int failures = 0;
{chr(10).join(calls)}
        return failures;
    }}

    static int reflect() {{
        int failures = 0;
{reflect}        return failures;
    }}

    /** A plugin-style loader: its loadClass override delegates to ClassLoader's own code. */
    static final class PluginLoader extends java.net.URLClassLoader {{
        PluginLoader(java.net.URL[] urls, ClassLoader parent) {{ super(urls, parent); }}
        @Override public Class<?> loadClass(String name) throws ClassNotFoundException {{
            return super.loadClass(name);
        }}
    }}

    static int late(java.io.File lateDir) throws Exception {{
        int failures = 0;
        PluginLoader loader = new PluginLoader(
            new java.net.URL[]{{lateDir.toURI().toURL()}}, Driver.class.getClassLoader());
{late_calls}        return failures;
    }}

    public static void main(String[] args) throws Exception {{
        java.io.File tmp = new java.io.File(args[0]);
        java.io.File lateDir = new java.io.File(args[1]);
        java.io.BufferedReader in = new java.io.BufferedReader(
            new java.io.InputStreamReader(System.in));
        System.out.println("READY");
        System.out.flush();
        for (String line = in.readLine(); line != null; line = in.readLine()) {{
            int failures;
            switch (line.trim()) {{
                case "all": failures = all(tmp); break;
                case "reflect": failures = reflect(); break;
                case "late": failures = late(lateDir); break;
                case "quit": return;
                default: System.out.println("unknown command " + line); continue;
            }}
            System.out.println("DONE " + line.trim() + " " + failures);
            System.out.flush();
        }}
    }}
}}
"""


def generate(entries: Sequence[CatalogueEntry], out: Path, *,
             late: Sequence[CatalogueEntry] = (),
             reflective_id: str | None = None) -> StubProject:
    """Write stub and driver sources under ``out`` (``src/``, ``late-src/``).

    ``late`` entries get stubs in a separate tree the driver loads through a URLClassLoader
    (they must be instance or static methods without parameters). ``reflective_id`` names an
    entry (no parameters) the ``reflect`` phase calls through ``Method.invoke``.
    """
    root, late_root = out / "src", out / "late-src"
    uncallable = [e.id for e in entries if is_jdk(e.class_name) and e.id not in JDK_CALLS]
    callable_ = [e for e in entries if e.id not in uncallable]
    stubbed = [e for e in callable_ if not is_jdk(e.class_name)]
    _write_classes(_tree(stubbed, _referenced(stubbed)), root)
    for entry in late:
        if entry.signatures()[0] or is_jdk(entry.class_name):
            raise ConfigError(f"late entry {entry.id}: only non-JDK methods without "
                              "parameters can be loaded late by the driver")
    _write_classes(_tree(late, _referenced(late)), late_root)
    by_id = {e.id: e for e in callable_}
    reflective = by_id.get(reflective_id) if reflective_id else None
    if reflective_id and (reflective is None or reflective.signatures()[0]):
        raise ConfigError(f"reflective entry {reflective_id!r}: must be a catalogued method "
                          "without parameters")
    driver = root / Path(*DRIVER.split(".")).with_suffix(".java")
    driver.parent.mkdir(parents=True, exist_ok=True)
    driver.write_text(_driver(callable_, late, reflective), encoding="utf-8")
    expected = {e.id: _expected(e) for e in [*callable_, *late]}
    methods = {e.id: f"e{i}" for i, e in enumerate(callable_)}
    return StubProject(root, late_root, expected, uncallable, reflective_id, methods)


def compile_sources(sources: Path, out: Path, *, classpath: Path | None = None,
                    javac: str | None = None) -> Path:
    """javac every ``*.java`` under ``sources`` into ``out`` (JDK 17 release)."""
    compiler = javac or shutil.which("javac")
    if compiler is None:
        raise ToolchainError("javac not found on PATH; install a JDK 17 "
                             "(e.g. `apt-get install openjdk-17-jdk-headless`)")
    files = sorted(sources.rglob("*.java"))
    if not files:
        raise ToolchainError(f"{sources}: no Java sources to compile")
    out.mkdir(parents=True, exist_ok=True)
    argfile = out.parent / f"{out.name}.sources.txt"
    argfile.write_text("\n".join(str(p) for p in files), encoding="utf-8")
    command = [compiler, "--release", "17", "-encoding", "UTF-8", "-nowarn", "-d", str(out)]
    if classpath is not None:
        command += ["-cp", str(classpath)]
    result = subprocess.run([*command, f"@{argfile}"], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise ToolchainError(f"javac failed on the generated stubs in {sources}:\n"
                             f"{(result.stderr or result.stdout)[-3000:]}")
    return out
