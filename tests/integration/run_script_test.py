#!/usr/bin/env python3
"""`make run` (scripts/run.sh) checks its ports before it starts anything, and says which
port is taken and how to choose another, instead of a server stopping with its reason in a
log file.

    run_script_test.py BUILD_DIR
"""
import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(build, **ports):
    env = dict(os.environ, **{key: str(value) for key, value in ports.items()})
    return subprocess.run([os.path.join(ROOT, "scripts", "run.sh"), build], env=env,
                          capture_output=True, text=True, timeout=60)


def main():
    build = sys.argv[1]
    failures = []
    # A port held on 127.0.0.1 (TCP and UDP, as a server would) by this process.
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    taken = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.bind(("127.0.0.1", taken))
    except OSError:
        pass
    free = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    free.bind(("127.0.0.1", 0))
    free_port = free.getsockname()[1]
    free.close()

    cases = [
        ({"PORT": taken, "UPSTREAM_PORT": free_port},
         f"dnsverdict: port {taken} (Unbound) is already in use on this machine; choose "
         "another: make run PORT=<port>"),
        ({"PORT": free_port, "UPSTREAM_PORT": taken},
         f"dnsverdict: port {taken} (NSD) is already in use on this machine; choose "
         "another: make run UPSTREAM_PORT=<port>"),
        ({"PORT": "53x"}, "dnsverdict: PORT=53x is not a port (1-65535)"),
        ({"PORT": free_port, "UPSTREAM_PORT": free_port},
         f"dnsverdict: PORT and UPSTREAM_PORT are both {free_port}; choose two ports"),
    ]
    for ports, expected in cases:
        result = run(build, **ports)
        if result.returncode != 1 or result.stderr.strip() != expected:
            failures.append(f"{ports}: exit {result.returncode}, stderr {result.stderr!r}, "
                            f"expected {expected!r}")
    for failure in failures:
        print("FAIL", failure)
    print("run_script_test:", "failed" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
