"""`sgz serve`: starts the web UI on 127.0.0.1 only, says where, logs no URLs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import sgz_env

SERVE = ("import sys; from archive.cli.serve_cmds import serve_cmd; "
         "serve_cmd.main(args=sys.argv[2:], obj={'home': sys.argv[1]}, prog_name='sgz serve')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_binds_loopback_and_logs_no_urls(cli_home: tuple[Path, dict[str, str]]) -> None:
    home, env = cli_home
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(home), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/records?household=H-CANARY", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "sgz serve did not start"
                time.sleep(0.2)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert "server" not in r.headers  # no version banner
        login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert "登录" in login.text
        listening = [c for c in _listeners(port)]
        assert listening and all(addr == "127.0.0.1" for addr in listening)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in err and "网页界面已启动" in err
    assert "H-CANARY" not in out + err and "GET /" not in out + err


def _listeners(port: int) -> list[str]:
    """Local addresses listening on `port` (from /proc/net/tcp; Linux CI)."""
    out = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if int(p, 16) == port and state == "0A":  # LISTEN
            out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


def test_serve_refuses_a_folder_that_is_not_a_home(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-c", SERVE, str(tmp_path), "--port", "1"],
                       env=sgz_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "不是 sgz 站点目录" in r.stderr
