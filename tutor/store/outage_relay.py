"""A TCP relay to PostgreSQL that can be cut and restored: a database outage staged on demand.

The outage test (tests/store/test_outage.py) and the load benchmark (bench/load.py) point the service at
the relay's port and cut it: every open connection is dropped and new ones are refused, as when the
network or the database goes away, until it is restored. It lives in the package because both must import
it and the package is the one thing both already import; the service itself never uses it.
"""

from __future__ import annotations

import socket
import threading


class OutageRelay:
    """Listens on a free port of 127.0.0.1 and relays each connection to `target` while it is up."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = True
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones."""
        self.up = False
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        """Stop listening and drop what is open."""
        self.cut()
        self.listener.close()
