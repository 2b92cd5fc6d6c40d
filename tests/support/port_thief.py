"""A `temporal` CLI whose history service loses its port: the real binary, with that port taken under it.

Usage: python port_thief.py REAL_TEMPORAL STARTS_TO_SPOIL COUNTER_FILE start-dev-arguments…

The dev server picks its internal services' ports itself and tells nobody, except with
`--log-config`: it writes its whole configuration to stderr before it builds a single service.
This wrapper reads that configuration, stops the server (SIGSTOP) the moment the history
service's port goes past, binds and listens on that port, and lets the server go on: its history
service then fails to bind (`Failed to start gRPC listener … address already in use`) and the
server panics: the failure `DevServer.start` must survive. The server builds its services only
after that configuration is written, so the port is always taken before the service binds it.

The first STARTS_TO_SPOIL invocations (counted in COUNTER_FILE) are spoiled; later ones exec the
real binary untouched. Each spoiled start appends the port it took to COUNTER_FILE.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path


def spoil(real: str, arguments: list[str], counter: Path) -> int:
    server = subprocess.Popen([real, *arguments, "--log-config"], stderr=subprocess.PIPE, text=True)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    assert server.stderr is not None
    section = ""
    thief: socket.socket | None = None
    for line in server.stderr:
        if thief is not None:
            sys.stderr.write(line)  # the server's own log, for the caller to read
            continue
        if heading := re.fullmatch(r" {4}(\w+):\n", line):
            section = heading[1]
        elif section == "history" and (port := re.fullmatch(r" +grpcPort: (\d+)\n", line)):
            os.kill(server.pid, signal.SIGSTOP)
            thief = socket.socket()
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the server left it in TIME_WAIT
            try:
                thief.bind(("127.0.0.1", int(port[1])))
                thief.listen()
            except OSError as exc:  # the server bound it first: this harness is broken, say so
                server.kill()
                sys.exit(f"port_thief: could not take port {port[1]} from the server: {exc}")
            with counter.open("a") as record:
                record.write(f"{port[1]}\n")
            os.kill(server.pid, signal.SIGCONT)
    return server.wait()


def main() -> int:
    real, starts_to_spoil, counter_file, *arguments = sys.argv[1:]
    counter = Path(counter_file)
    spoiled = len(counter.read_text().split()) if counter.exists() else 0
    if spoiled >= int(starts_to_spoil):
        os.execv(real, [real, *arguments])
    return spoil(real, arguments, counter)


if __name__ == "__main__":
    sys.exit(main())
