"""A TCP relay between the service and the broker: an outage (cut) or a hang (stall) the broker itself survives.

A killed-and-restarted Tansu is a new cluster (topics, groups and offsets gone), which
a real Kafka restart is not; cutting or stalling the connection is the honest way to test
an outage. A stall is a broker that stopped answering (as under SIGSTOP): connections are
accepted and kept, and whatever is sent is held, to arrive when the relay resumes.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    """Forward every connection made to ``port`` to ``target_port`` on 127.0.0.1, until stopped."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port = port
        self.target_port = target_port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._flowing = threading.Event()
        self._flowing.set()

    def stall(self) -> None:
        """Hold every byte either way until ``resume``; connections stay open and new ones are accepted."""
        self._flowing.clear()

    def resume(self) -> None:
        """Deliver what was held and let bytes flow again."""
        self._flowing.set()

    def start(self) -> None:
        """Listen on the relay port (again) and accept connections in a background thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="relay-accept", daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one, as a broker that went away would."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone does not on Linux.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        # Pipes holding bytes of a stall find their sockets closed and end.
        self._flowing.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), name="relay-pipe", daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            # Each pipe closes the socket it reads; the other pipe closes the other one.
            source.close()
