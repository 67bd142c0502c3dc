/**
 * The lab's stand-in for istio-proxy (Envoy) in a pod with a capture: what it does to addresses,
 * nothing more. A Python 3 script (Debian's python3), given to `python3 -c` with its configuration
 * as an argument (the proxy's user cannot read the lab's state directory), because Envoy's two socket calls have no Node API: SO_ORIGINAL_DST (the destination
 * the REDIRECT rewrote, from conntrack) and IP_TRANSPARENT (TPROXY's listener and original_src's
 * upstream socket). It follows ../shared/research/harness/sidecar-harness/minienvoy.py, which was
 * observed working on these machines (research/dns-cni-sidecar.md §3):
 *
 * - outbound (`proxyPort`, 15001): the original destination by SO_ORIGINAL_DST; a Service's
 *   ClusterIP:port is sent to one of its ready endpoints at random (Envoy balances itself, as the
 *   trace's `outbound|port||svc` cluster), any other address as it was (PassthroughCluster); the
 *   connection is opened as the proxy's user, which ISTIO_OUTPUT lets out uncaptured;
 * - inbound (`inboundPort`, 15006), REDIRECT: the original destination by SO_ORIGINAL_DST, the
 *   upstream socket bound to 127.0.0.6 (InboundPassthroughBindIpv4);
 * - inbound, TPROXY: an IP_TRANSPARENT listener whose local address is the original destination;
 *   the upstream socket IP_TRANSPARENT with SO_MARK `mark` (1337), bound to the caller's address
 *   (original_src).
 *
 * It runs as the injection template's identity: uid 1337/gid 1337 (REDIRECT), uid 0/gid 1337 (TPROXY).
 *
 * @module
 */

/** What the proxy is told (JSON). */
export interface SidecarProxyConfig {
  mode: 'REDIRECT' | 'TPROXY';
  proxyPort: number;
  inboundPort: number;
  mark: number;
  uid: number;
  gid: number;
  /** `ClusterIP:port` → the Service's ready endpoints `IP:port` (empty: Envoy answers 503, the connection is closed). */
  services: Record<string, string[]>;
}

export const SIDECAR_PROXY_PY = String.raw`#!/usr/bin/env python3
# kubepath lab: istio-proxy's address behaviour (src/lab/sidecar-proxy.ts). Usage: python3 -c SCRIPT CONFIG_JSON
import json, random, socket, struct, sys, threading

SO_ORIGINAL_DST = 80
IP_TRANSPARENT = 19
SO_MARK = 36
C = json.loads(sys.argv[1])
TPROXY = C["mode"] == "TPROXY"


def original_dst(conn):
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, ip = struct.unpack("!2xH4s8x", raw)
    return socket.inet_ntoa(ip), port


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(conn, inbound):
    try:
        peer = conn.getpeername()
        if inbound and TPROXY:
            dst = conn.getsockname()
        else:
            dst = original_dst(conn)
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if inbound and TPROXY:
            up.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
            up.setsockopt(socket.SOL_SOCKET, SO_MARK, C["mark"])
            up.bind((peer[0], 0))
        elif inbound:
            up.bind(("127.0.0.6", 0))
        else:
            eps = C["services"].get("%s:%d" % dst)
            if eps is not None:
                if not eps:
                    raise OSError("no healthy upstream")
                host, port = random.choice(eps).rsplit(":", 1)
                dst = (host, int(port))
        up.settimeout(2)
        up.connect(tuple(dst))
        up.settimeout(None)
    except OSError:
        conn.close()
        return
    threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
    pipe(up, conn)


def serve(port, inbound):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if inbound and TPROXY:
        s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    s.bind(("0.0.0.0", port))
    s.listen(256)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, inbound), daemon=True).start()


threading.Thread(target=serve, args=(C["proxyPort"], False), daemon=True).start()
serve(C["inboundPort"], True)
`;
