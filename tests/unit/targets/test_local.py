"""LocalTarget's glue: JVM options, proxy environment, trust store, prepare/spawn checks."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError, HarnessError
from harness.specimen import facts
from harness.specimen.tracker import make_certificate
from harness.targets.base import AppSpec, ProxyEndpoint, Target
from harness.targets.local import (
    LocalTarget,
    is_jvm_command,
    java_tool_options,
    jvm_properties,
    make_truststore,
    proxy_environment,
)

needs_keytool = pytest.mark.skipif(
    subprocess.run(["which", "keytool"], capture_output=True).returncode != 0,
    reason="needs keytool (a JDK 17)")


@pytest.fixture()
def ca_pem(tmp_path: Path) -> Path:
    cert, _ = make_certificate(("mitmproxy",), tmp_path)
    return cert


@pytest.fixture()
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(log_dir=tmp_path / "logs")
    yield local
    local.close()


def jvm_app(data_dir: Path) -> AppSpec:
    return AppSpec(package=facts.PACKAGE, command=["java", "-cp", "x", facts.MAIN_CLASS],
                   options={"control": True, "data_dir": str(data_dir), "sha256": "ab" * 32})


def test_jvm_properties_send_everything_through_the_proxy(tmp_path: Path) -> None:
    proxy = ProxyEndpoint(host="127.0.0.1", port=8081, ca_pem=tmp_path / "ca.pem")
    props = jvm_properties(proxy, tmp_path / "t.p12", "pw")
    assert props["https.proxyHost"] == props["http.proxyHost"] == "127.0.0.1"
    assert props["https.proxyPort"] == props["http.proxyPort"] == "8081"
    assert props["http.nonProxyHosts"] == ""  # the JDK default would exempt 127.*
    assert props["javax.net.ssl.trustStore"] == str(tmp_path / "t.p12")
    assert props["javax.net.ssl.trustStorePassword"] == "pw"
    assert props["javax.net.ssl.trustStoreType"] == "PKCS12"


def test_jvm_properties_without_proxy_set_no_proxy_host() -> None:
    props = jvm_properties(None, None)
    assert not any("proxy" in name for name in props)
    assert not any(name.startswith("javax.net.ssl") for name in props)


def test_java_tool_options_quote_spaces_and_keep_existing_options() -> None:
    options = java_tool_options({"a.b": "1", "store": "/tmp/with space/t.p12", "empty": ""},
                                existing="-Xmx64m")
    assert shlex.split(options) == ["-Xmx64m", "-Da.b=1", "-Dstore=/tmp/with space/t.p12",
                                    "-Dempty="]


def test_java_tool_options_refuse_quotes() -> None:
    with pytest.raises(ConfigError, match="quote"):
        java_tool_options({"bad": 'a"b'})


def test_proxy_environment_for_other_programs(tmp_path: Path) -> None:
    env = proxy_environment(ProxyEndpoint(host="127.0.0.1", port=9, ca_pem=tmp_path / "ca.pem"))
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == "http://127.0.0.1:9"
    assert env["SSL_CERT_FILE"] == str(tmp_path / "ca.pem")


def test_is_jvm_command() -> None:
    assert is_jvm_command(["/usr/lib/jvm/java-17/bin/java", "-cp", "x", "Main"])
    assert not is_jvm_command(["python3", "app.py"])
    assert not is_jvm_command([])


@needs_keytool
def test_truststore_holds_the_ca(ca_pem: Path, tmp_path: Path) -> None:
    store = make_truststore(ca_pem, tmp_path, password="secret")
    listing = subprocess.run(["keytool", "-list", "-keystore", str(store), "-storetype",
                              "PKCS12", "-storepass", "secret"], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert "consentry-ca" in listing.stdout and "trustedCertEntry" in listing.stdout


@needs_keytool
def test_truststore_rejects_a_file_that_is_not_a_certificate(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="keytool could not import"):
        make_truststore(junk, tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        make_truststore(tmp_path / "missing.pem", tmp_path)


@needs_keytool
def test_prepare_points_the_jvm_at_the_proxy_and_clears_data(
        target: LocalTarget, ca_pem: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "consent.txt").write_text("accept\n")
    app = jvm_app(data)
    facts_ = target.prepare(app, target.app_proxy(8123, ca_pem), clear=False)
    assert (data / "consent.txt").exists()
    assert facts_ == {"package": facts.PACKAGE, "program": "java", "sha256": "ab" * 32,
                      "version": None}
    target.prepare(app, target.app_proxy(8123, ca_pem), clear=True)
    assert not data.exists()

    options = target._prepared[facts.PACKAGE].env["JAVA_TOOL_OPTIONS"]
    props = dict(o[2:].split("=", 1) for o in shlex.split(options) if o.startswith("-D"))
    assert props["https.proxyPort"] == "8123" and props["https.proxyHost"] == "127.0.0.1"
    assert Path(props["javax.net.ssl.trustStore"]).is_file()


def test_prepare_other_programs_gets_proxy_environment(
        target: LocalTarget, ca_pem: Path) -> None:
    app = AppSpec(package="tool", command=[sys.executable, "-c", "pass"])
    facts_ = target.prepare(app, target.app_proxy(8124, ca_pem))
    env = target._prepared["tool"].env
    assert env["HTTPS_PROXY"] == "http://127.0.0.1:8124" and "JAVA_TOOL_OPTIONS" not in env
    assert facts_["sha256"] is not None and len(facts_["sha256"]) == 64


def test_prepare_and_spawn_need_a_command_and_preparation(
        target: LocalTarget, ca_pem: Path) -> None:
    with pytest.raises(ConfigError, match="needs AppSpec.command"):
        target.prepare(AppSpec(package="x"), target.app_proxy(1, ca_pem))
    with pytest.raises(ConfigError, match="call prepare"):
        target.spawn(AppSpec(package="y", command=["true"]))


def test_control_process_that_dies_reports_its_stderr(target: LocalTarget, tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('boom: no display\\n'); sys.exit(3)"
    app = AppSpec(package="dies", command=[sys.executable, "-c", script],
                  options={"control": True})
    target.prepare_without_proxy(app)
    with pytest.raises(HarnessError, match=r"(?s)exited with code 3.*boom: no display"):
        target.spawn(app)
    assert any("boom: no display" in p.read_text() for p in (tmp_path / "logs").iterdir())


def test_facts_for_the_manifest(target: LocalTarget, tmp_path: Path) -> None:
    checked: Target = target  # LocalTarget satisfies the Target protocol (checked by mypy)
    assert checked.proxy_listen_host() == "127.0.0.1"
    assert target.frida_device().kind == "local"
    assert target.ground_truth() == {}
    target.prepare_without_proxy(jvm_app(tmp_path / "d"))
    truth = target.ground_truth()
    assert truth["imei"][0] == "866123045678912" and truth["android_id"] == ["5e3d9c7a1b2f4e60"]
    description = target.describe()
    assert description["target"] == "local" and description["os"]
