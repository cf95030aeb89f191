"""A byte-forwarding TCP proxy for fault injection: TLS passes through untouched (the client's handshake is with
the API server behind it), and the proxy counts the bytes it forwards so faults can be placed at a fraction of
what a clean run sends.

Faults, armed for when the byte count (both directions) reaches a mark (several may be armed for one run):
- ``reset``: every open connection is reset once (SO_LINGER 0, then close: a TCP RST, "connection reset by
  peer"); new connections work;
- ``cut``: every open connection is closed once, mid-stream (a FIN: a response cut short, IncompleteRead);
- ``outage``: every open connection is reset and the proxy stops listening (connection refused) until ``heal``.
"""

from __future__ import annotations

import socket
import struct
import threading


def _stop_listening(listener: socket.socket) -> None:
    """Refuse new connections now: close() alone leaves the socket listening while a thread blocks in accept()
    on it; shutdown() wakes that thread and ends the listen on Linux."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()


def _reset(sock: socket.socket) -> None:
    """A TCP RST now. close() alone does nothing while another thread blocks in recv() on the socket (that call
    holds it open, and the peer waits for an answer that never comes); shutdown(SHUT_RD) wakes that thread
    without sending a FIN, then the close with SO_LINGER 0 aborts the connection."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()


class FaultProxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.bytes = 0
        self.faults: list[tuple[str, int]] = []  # armed, the nearest mark first
        self.fired: list[tuple[str, int]] = []
        self.down = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, args=(self.listener,), daemon=True)
        self._accepting.start()

    def arm(self, *faults: tuple[str, int]) -> None:
        """Count from zero and inject each ``(kind, at)`` (reset, cut, outage) once the count of forwarded bytes
        reaches ``at``."""
        with self._lock:
            self.bytes, self.faults = 0, sorted(faults, key=lambda fault: fault[1])

    def heal(self) -> None:
        """Listen again on the same port after an outage."""
        with self._lock:
            if not self.down:
                return
            self.listener = socket.create_server(("127.0.0.1", self.port))
            self.down = False
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self.down = True
            _stop_listening(self.listener)
            for sock in list(self._open):
                _reset(sock)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, unused = listener.accept()
            except OSError:
                return
            with self._lock:
                if self.down or listener is not self.listener:  # accepted just before the outage began
                    _reset(client)
                    return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                fault = self.faults[0] if self.faults else None
                if fault and self.bytes + len(data) >= fault[1]:
                    self.faults.pop(0)
                    # Forward the bytes before the mark, so the fault falls exactly there.
                    head = data[: max(0, fault[1] - self.bytes)]
                    self.bytes += len(head)
                    try:
                        target.sendall(head)
                    except OSError:
                        pass
                    self._inject(fault[0])
                    return
                self.bytes += len(data)
            try:
                target.sendall(data)
            except OSError:
                break
        with self._lock:
            for sock in (source, target):
                if sock in self._open:
                    self._open.discard(sock)
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()

    def _inject(self, kind: str) -> None:
        """Called with the lock held."""
        self.fired.append((kind, self.bytes))
        for sock in list(self._open):
            if kind == "cut":
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            else:
                _reset(sock)
        self._open.clear()
        if kind == "outage":
            self.down = True
            _stop_listening(self.listener)
