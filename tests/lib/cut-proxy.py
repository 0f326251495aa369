#!/usr/bin/python3
"""cut-proxy.py UPSTREAM_HOST UPSTREAM_PORT - a TCP relay on a free port of
127.0.0.1 whose "link" can be cut and restored, for tests/pg/08-multihost.sh
where network namespaces are not available (issue 15).

Prints its port on the first line of stdout. SIGUSR1 cuts the link: from
then on nothing is relayed either way and new connections are accepted
but not passed on, as when a cable is pulled (no RST, no FIN: the bytes
wait in the kernel's buffers and the peers see silence, which is what a
TCP connection over a link that is down sees). SIGUSR2 restores it: the
waiting bytes flow again, and held connections are connected upstream.
Logs each change on stderr. Standard library only.
"""
import selectors
import signal
import socket
import sys

up_host, up_port = sys.argv[1], int(sys.argv[2])
sel = selectors.DefaultSelector()
state = {"cut": False, "want": None}
pairs = {}  # socket -> its peer
held = []   # client sockets accepted while cut, not yet connected upstream


def on_signal(signum, _frame):
    state["want"] = signum == signal.SIGUSR1


signal.signal(signal.SIGUSR1, on_signal)
signal.signal(signal.SIGUSR2, on_signal)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(64)
sel.register(lsock, selectors.EVENT_READ)
print(lsock.getsockname()[1], flush=True)


def close_pair(s):
    p = pairs.pop(s, None)
    for x in (s, p):
        if x is None:
            continue
        pairs.pop(x, None)
        try:
            sel.unregister(x)
        except (KeyError, ValueError):
            pass
        x.close()


def connect(c):
    try:
        u = socket.create_connection((up_host, up_port), timeout=5)
    except OSError as e:
        print("cut-proxy: upstream refused: %s" % e, file=sys.stderr, flush=True)
        c.close()
        return
    u.settimeout(None)
    pairs[c] = u
    pairs[u] = c
    sel.register(c, selectors.EVENT_READ)
    sel.register(u, selectors.EVENT_READ)


def set_cut(cut):
    if cut == state["cut"]:
        return
    state["cut"] = cut
    for s in list(pairs):
        if cut:
            sel.unregister(s)
        else:
            sel.register(s, selectors.EVENT_READ)
    if not cut:
        while held:
            connect(held.pop())
    print("cut-proxy: link %s (%d connections)" % ("cut" if cut else "restored", len(pairs) // 2),
          file=sys.stderr, flush=True)


while True:
    if state["want"] is not None:
        want, state["want"] = state["want"], None
        set_cut(want)
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        if s is lsock:
            c, _ = lsock.accept()
            if state["cut"]:
                held.append(c)
            else:
                connect(c)
            continue
        if s not in pairs:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            close_pair(s)
            continue
        try:
            pairs[s].sendall(data)
        except OSError:
            close_pair(s)
