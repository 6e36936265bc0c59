"""The administration commands and the secure defaults of ``serve``, as an operator runs them:
the first start makes and prints an admin token, ``tokens create`` prints the token alone on the
last line, ``--insecure`` refuses a non-loopback bind, and ``backup verify`` refuses a truncated
backup in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import free_port


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_ANALYTICS_")}
    return {
        **env,
        "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "AI_ANALYTICS_LOG_DIR": str(tmp_path / "logs"),
        **extra,
    }


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin_ai_analytics", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_first_start_prints_an_admin_token_and_tokens_create_prints_one_last(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while not (lines and lines[-1].startswith("paa_")):
            assert time.monotonic() < deadline, lines
            lines.append(server.stdout.readline().strip())
        first = lines[-1]
        assert any("tokens create" in line for line in lines)
        api = f"http://127.0.0.1:{port}/api/plugin-ai-analytics"
        while True:
            try:
                r = httpx.get(api + "/plugins", headers={"Authorization": f"Bearer {first}"}, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200
        assert httpx.get(api + "/plugins", timeout=5).status_code == 401

        made = _cli(tmp_path, "tokens", "create", "--role", "viewer", "--name", "grafana")
        assert made.returncode == 0, made.stderr
        viewer = made.stdout.strip().splitlines()[-1]
        assert viewer.startswith("paa_") and " " not in viewer
        assert httpx.get(api + "/plugins", headers={"Authorization": f"Bearer {viewer}"}, timeout=5).status_code == 200
        listed = _cli(tmp_path, "tokens", "list").stdout
        assert "grafana" in listed and "initial-admin" in listed and viewer.split("_", 2)[2] not in listed
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stdout is not None:
            server.stdout.close()


def test_insecure_refuses_a_network_bind(tmp_path: Path) -> None:
    result = _cli(tmp_path, "serve", "--insecure", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2
    assert "--insecure (authentication off) refuses to listen on 0.0.0.0" in result.stderr


@pytest.mark.slow
def test_backup_verify_refuses_a_truncated_backup(tmp_path: Path) -> None:
    made = _cli(tmp_path, "backup")
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip().splitlines()[-1])
    assert _cli(tmp_path, "backup", "verify", str(folder)).returncode == 0
    dump = folder / "database.sqlite"
    dump.write_bytes(dump.read_bytes()[:1000])
    result = _cli(tmp_path, "backup", "verify", str(folder))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "truncated" in result.stderr
    refused = _cli(tmp_path, "restore", "--yes", str(folder))
    assert refused.returncode == 2 and "truncated" in refused.stderr


def test_serve_speaks_tls_when_given_a_certificate(tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)]
        + ["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=False, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert r.status_code == 200 and r.headers["strict-transport-security"].startswith("max-age=")
    finally:
        server.terminate()
        server.wait(timeout=20)
