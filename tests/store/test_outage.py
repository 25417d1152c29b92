"""A database that goes away: 503 with Retry-After while it is gone, and recovery without a restart."""

from __future__ import annotations

import socket
import threading

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth, with_settings
from tutor.app import create_app
from tutor.runtime import Runtime

EVENT = {"event_id": "o1", "learner_id": "l1", "item_id": "test-scams-1", "correct": True, "timestamp": "2026-11-20T08:00:00Z"}


class Proxy:
    """A TCP relay to PostgreSQL that a test can cut and restore, as a network or database outage."""

    def __init__(self, target=("127.0.0.1", 5432)):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(50)
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
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

    def cut(self):
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def restore(self):
        self.up = True


def test_database_outage_gives_503_and_the_service_recovers(settings, keys, runtime):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the outage is staged on the PostgreSQL store, reached through a relay the test can cut")
    pg_database = settings.database_url
    proxy = Proxy()
    url = pg_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    through_proxy = Runtime(with_settings(settings, store={"database_url": url}), migrate=False)
    with TestClient(create_app(runtime=through_proxy)) as c:
        h = auth(keys["platform"])
        assert c.post("/v1/events", json={"events": [EVENT]}, headers=h).status_code == 200
        proxy.cut()
        assert c.get("/ready").status_code == 503
        r = c.post("/v1/events", json={"events": [{**EVENT, "event_id": "o2"}]}, headers=h)
        assert r.status_code == 503 and "database" in r.json()["detail"]
        proxy.restore()
        assert c.get("/ready").status_code == 200
        assert c.post("/v1/events", json={"events": [{**EVENT, "event_id": "o2"}]}, headers=h).status_code == 200
        body = c.get("/v1/learners/l1/mastery", headers=h).json()
        assert next(s for s in body["skills"] if s["skill_id"] == "4.2-basic")["n_observations"] == 2
    through_proxy.engine.dispose()
