/**
 * acceptProxyProtocol and connectWithProxyHeader on real loopback sockets: http (fetch and
 * http.request), https, http2 (h2c and TLS) and raw net servers; headers in one segment with
 * the data or byte by byte; timeouts, oversized headers, untrusted peers (clients bound to
 * different 127.x.y.z addresses), and each policy.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  PROXY_PROTOCOL_ERROR_EVENT,
  ProxyProtocolError,
  type ProxyProtocolPolicy,
  acceptProxyProtocol,
  alpnTlv,
  connectWithProxyHeader,
  describeProxyHeader,
  encodeProxyHeader,
  proxyHeaderOf,
  proxyProtocolOf,
} from '../../../src/clientip/proxy-protocol/index.js';
import { TEST_CERT, TEST_KEY } from './fixtures.js';
import { GET, body, close, exchange, forwarder, listen, nextError } from './loopback.js';
import { bytes, prng } from './support.js';

/** What the app saw: the socket's address, the listener's view, the header. */
function seen(socket: net.Socket): string {
  const info = proxyProtocolOf(socket);
  const header = proxyHeaderOf(socket);
  return JSON.stringify({
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    peerAddress: info?.peerAddress,
    header: header ? describeProxyHeader(header) : header,
  });
}

interface Seen {
  remoteAddress: string;
  remotePort: number;
  remoteFamily: string;
  peerAddress: string;
  header: ReturnType<typeof describeProxyHeader> | null;
}

function httpApp(policy: ProxyProtocolPolicy): http.Server {
  return acceptProxyProtocol(
    http.createServer((req, res) => res.end(seen(req.socket))),
    policy,
  );
}

const CLIENT = { ip: '203.0.113.7', port: 51234 };
const LB = { ip: '10.0.0.5', port: 443 };
const V2 = encodeProxyHeader({ source: CLIENT, destination: LB, tlvs: [alpnTlv('http/1.1')] });
const V1 = encodeProxyHeader({ version: 1, source: CLIENT, destination: LB });

const servers: net.Server[] = [];
after(async () => {
  for (const s of servers) if (s.listening) await close(s);
});

async function start<S extends net.Server>(server: S, host?: string): Promise<number> {
  servers.push(server);
  return listen(server, host);
}

describe('http.Server', () => {
  test('fetch through a load balancer that sends PROXY v1 or v2: the app sees the client, not the balancer', async () => {
    const app = httpApp({ mode: 'require', trusted: ['127.0.0.3/32'] });
    const port = await start(app);
    for (const version of [1, 2] as const) {
      const lb = await forwarder(port, '127.0.0.3', version);
      try {
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`http://127.0.0.2:${lb.port}/`);
          const s = (await res.json()) as Seen;
          assert.equal(s.remoteAddress, '127.0.0.1', 'the client fetch connected from');
          assert.equal(s.peerAddress, '127.0.0.3', 'the balancer');
          assert.equal(s.header?.version, version);
          assert.deepEqual(s.header?.destination, { address: '127.0.0.2', port: lb.port });
        }
      } finally {
        await lb.close();
      }
    }
  });

  test('http.request over connectWithProxyHeader; IPv6 clients; the header is exposed', async () => {
    const port = await start(httpApp({ mode: 'require' }));
    const get = (header: Parameters<typeof connectWithProxyHeader>[1]): Promise<Seen> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/', createConnection: () => connectWithProxyHeader({ host: '127.0.0.1', port }, header) }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(JSON.parse(text) as Seen));
        });
        req.on('error', reject);
        req.end();
      });
    const v2 = await get({ source: CLIENT, destination: LB, tlvs: [alpnTlv('http/1.1')] });
    assert.deepEqual([v2.remoteAddress, v2.remotePort, v2.remoteFamily], ['203.0.113.7', 51234, 'IPv4']);
    assert.equal(v2.header?.alpn, 'http/1.1');
    const v6 = await get({ version: 1, source: { ip: '2001:db8::7', port: 40000 }, destination: { ip: '2001:db8::1', port: 80 } });
    assert.deepEqual([v6.remoteAddress, v6.remotePort, v6.remoteFamily], ['2001:db8::7', 40000, 'IPv6']);
    // LOCAL (a balancer's health check): the connection's own peer.
    const local = await get({ command: 'LOCAL' });
    assert.equal(local.remoteAddress, '127.0.0.1');
    assert.equal(local.header?.command, 'LOCAL');
  });

  test('header and request in one segment, and byte by byte: same answer, request untouched', async () => {
    const port = await start(httpApp({ mode: 'require' }));
    for (const header of [V1, V2]) {
      const one = await exchange(port, [Buffer.concat([header, GET('/one')])]);
      assert.equal((JSON.parse(body(one.data)) as Seen).remoteAddress, '203.0.113.7');
      const all = Buffer.concat([header, GET('/bytes')]);
      const pieces = [...all].map((b) => Buffer.from([b]));
      const slow = await exchange(port, pieces, { gapMs: 1 });
      assert.equal((JSON.parse(body(slow.data)) as Seen).remotePort, 51234);
    }
  });

  test('no header under require: refused, reported, the process goes on', async () => {
    const app = httpApp({ mode: 'require' });
    const port = await start(app);
    const error = nextError(app);
    const r = await exchange(port, [GET()]);
    assert.equal(r.data.length, 0);
    const e = await error;
    assert.ok(e instanceof ProxyProtocolError);
    assert.equal(e.code, 'not-proxy-protocol');
  });
});

describe('policies', () => {
  test('require with trusted CIDRs: other peers are refused before they send anything', async () => {
    const app = httpApp({ mode: 'require', trusted: ['127.0.0.3'] });
    const port = await start(app);
    const error = nextError(app);
    const r = await exchange(port, [V2, GET()], { localAddress: '127.0.0.4' });
    assert.equal(r.data.length, 0);
    assert.equal((await error).code, 'untrusted-peer');
    const ok = await exchange(port, [V2, GET()], { localAddress: '127.0.0.3' });
    assert.equal((JSON.parse(body(ok.data)) as Seen).remoteAddress, '203.0.113.7');
  });

  test('optional: trusted peers with or without a header; a header from anyone else is an error', async () => {
    const app = httpApp({ mode: 'optional', trusted: ['127.0.0.3/32', '::1/128'] });
    const port = await start(app);
    const trustedWith = JSON.parse(body((await exchange(port, [V2, GET()], { localAddress: '127.0.0.3' })).data)) as Seen;
    assert.equal(trustedWith.remoteAddress, '203.0.113.7');
    const trustedWithout = JSON.parse(body((await exchange(port, [GET()], { localAddress: '127.0.0.3' })).data)) as Seen;
    assert.deepEqual([trustedWithout.remoteAddress, trustedWithout.header], ['127.0.0.3', null]);
    const otherWithout = JSON.parse(body((await exchange(port, [GET()], { localAddress: '127.0.0.4' })).data)) as Seen;
    assert.deepEqual([otherWithout.remoteAddress, otherWithout.header], ['127.0.0.4', null]);
    for (const header of [V1, V2]) {
      const error = nextError(app);
      const r = await exchange(port, [header, GET()], { localAddress: '127.0.0.4' });
      assert.equal(r.data.length, 0, 'no answer to a spoofed header');
      assert.equal((await error).code, 'header-not-allowed');
    }
  });

  test('reject: a header is an error, plain connections pass', async () => {
    const app = httpApp({ mode: 'reject' });
    const port = await start(app);
    const error = nextError(app);
    await exchange(port, [V1.subarray(0, 5)], { end: true });
    assert.equal((await error).code, 'header-not-allowed');
    const plain = JSON.parse(body((await exchange(port, [GET()], { localAddress: '127.0.0.9' })).data)) as Seen;
    assert.equal(plain.remoteAddress, '127.0.0.9');
    assert.equal(plain.header, null);
  });

  test('a dual-stack listener: IPv4-mapped peers match IPv4 CIDRs', async () => {
    const app = httpApp({ mode: 'require', trusted: ['127.0.0.0/24'] });
    const port = await start(app, '::');
    const s = JSON.parse(body((await exchange(port, [V2, GET()], { localAddress: '127.0.0.3' })).data)) as Seen;
    assert.equal(s.peerAddress, '::ffff:127.0.0.3');
    assert.equal(s.remoteAddress, '203.0.113.7');
  });

  test('bad policies are refused at install time', () => {
    const bad = (p: ProxyProtocolPolicy): void =>
      assert.throws(() => acceptProxyProtocol(net.createServer(), p), (e: unknown) => e instanceof ProxyProtocolError && e.code === 'invalid-argument');
    bad({ mode: 'optional' });
    bad({ mode: 'reject', trusted: ['10.0.0.0/8'] });
    bad({ mode: 'require', trusted: ['10.0.0.0/33'] });
    bad({ mode: 'require', timeoutMs: 0 });
    bad({ mode: 'require', maxV2Length: 70000 });
    bad({ mode: 'sometimes' as 'require' });
    const once = acceptProxyProtocol(net.createServer(), { mode: 'require' });
    assert.throws(() => acceptProxyProtocol(once, { mode: 'require' }), ProxyProtocolError);
  });
});

describe('limits', () => {
  test('a header that does not arrive in time: header-timeout, socket closed', async () => {
    const app = httpApp({ mode: 'require', timeoutMs: 150 });
    const port = await start(app);
    const error = nextError(app);
    const started = Date.now();
    const r = await exchange(port, [V2.subarray(0, 20)]);
    const e = await error;
    assert.equal(e.code, 'header-timeout');
    assert.equal(r.data.length, 0);
    assert.ok(Date.now() - started < 2000);
  });

  test('an oversized v2 header is refused as soon as its length arrives', async () => {
    const app = httpApp({ mode: 'require', maxV2Length: 64, timeoutMs: 5000 });
    const port = await start(app);
    const big = encodeProxyHeader({ source: CLIENT, destination: LB, tlvs: [{ type: 0xf0, value: Buffer.alloc(1000) }] });
    const error = nextError(app);
    const started = Date.now();
    await exchange(port, [big.subarray(0, 16)]);
    assert.equal((await error).code, 'header-too-large');
    assert.ok(Date.now() - started < 2000, 'not the timeout');
  });

  test('an endless v1 line is cut at 107 bytes', async () => {
    const app = httpApp({ mode: 'require', timeoutMs: 5000 });
    const port = await start(app);
    const error = nextError(app);
    await exchange(port, [Buffer.from(`PROXY UNKNOWN ${'a'.repeat(200_000)}`)]);
    const e = await error;
    assert.equal(e.code, 'v1-too-long');
    assert.equal(e.offset, 105); // 106 bytes of text leave no room for CRLF within 107
  });

  test('a peer that resets mid-header is reported, not thrown', async () => {
    const app = httpApp({ mode: 'require' });
    const port = await start(app);
    const error = nextError(app);
    const s = net.connect({ port, host: '127.0.0.1' });
    await once(s, 'connect');
    s.write(V2.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    s.resetAndDestroy();
    assert.equal((await error).code, 'truncated');
  });
});

describe('the rest of the stream', () => {
  test('a raw net server gets every byte after the header unchanged (1 MiB, one write and many)', async () => {
    let info: string | undefined;
    const echo = acceptProxyProtocol(
      net.createServer((socket) => {
        info = socket.remoteAddress;
        socket.pipe(socket);
      }),
      { mode: 'require' },
    );
    const port = await start(echo);
    const payload = bytes(prng(9), 1 << 20);
    const r = await exchange(port, [Buffer.concat([V2, payload])], { end: true });
    assert.equal(Buffer.compare(r.data, payload), 0);
    assert.equal(info, '203.0.113.7');
    const pieces = [V2.subarray(0, 7), Buffer.concat([V2.subarray(7), payload.subarray(0, 3)]), payload.subarray(3, 70_000), payload.subarray(70_000)];
    const again = await exchange(port, pieces, { end: true, gapMs: 2 });
    assert.equal(Buffer.compare(again.data, payload), 0);
  });

  test('connection listeners added after install still get the socket only after the header', async () => {
    const server = acceptProxyProtocol(net.createServer(), { mode: 'require' });
    const addresses: (string | undefined)[] = [];
    server.on('connection', (socket: net.Socket) => {
      addresses.push(socket.remoteAddress);
      socket.end('bye');
    });
    const port = await start(server);
    const r = await exchange(port, [V1]);
    assert.equal(r.data.toString(), 'bye');
    assert.deepEqual(addresses, ['203.0.113.7']);
  });
});

describe('TLS and HTTP/2', () => {
  test('https.Server: the TLS socket has the client address; ClientHello in the header segment', async () => {
    const app = acceptProxyProtocol(https.createServer({ key: TEST_KEY, cert: TEST_CERT }, (req, res) => res.end(seen(req.socket))), { mode: 'require' });
    const port = await start(app);
    const text = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          ca: TEST_CERT,
          servername: 'localhost',
          createConnection: () => tls.connect({ socket: connectWithProxyHeader({ host: '127.0.0.1', port }, V2), ca: TEST_CERT, servername: 'localhost' }),
        },
        (res) => {
          let t = '';
          res.on('data', (d: Buffer) => (t += d.toString()));
          res.on('end', () => resolve(t));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const s = JSON.parse(text) as Seen;
    assert.deepEqual([s.remoteAddress, s.remotePort, s.peerAddress], ['203.0.113.7', 51234, '127.0.0.1']);
  });

  async function h2get(url: string, connect: () => net.Socket | tls.TLSSocket): Promise<Seen> {
    const session = http2.connect(url, { createConnection: connect });
    try {
      const stream = session.request({ ':path': '/' });
      let t = '';
      stream.on('data', (d: Buffer) => (t += d.toString()));
      await once(stream, 'end');
      return JSON.parse(t) as Seen;
    } finally {
      session.close();
    }
  }

  test('http2: h2c and h2 over TLS see the client through stream.session.socket', async () => {
    const handler = (stream: http2.ServerHttp2Stream): void => {
      stream.respond({ ':status': 200 });
      stream.end(seen(stream.session!.socket as net.Socket));
    };
    const h2c = acceptProxyProtocol(http2.createServer(), { mode: 'require' });
    h2c.on('stream', handler);
    const h2cPort = await start(h2c);
    const plain = await h2get(`http://127.0.0.1:${h2cPort}`, () => connectWithProxyHeader({ host: '127.0.0.1', port: h2cPort }, V1));
    assert.equal(plain.remoteAddress, '203.0.113.7');
    const h2 = acceptProxyProtocol(http2.createSecureServer({ key: TEST_KEY, cert: TEST_CERT }), { mode: 'require' });
    h2.on('stream', handler);
    const h2Port = await start(h2);
    const secure = await h2get(`https://localhost:${h2Port}`, () =>
      tls.connect({ socket: connectWithProxyHeader({ host: '127.0.0.1', port: h2Port }, V2), ca: TEST_CERT, servername: 'localhost', ALPNProtocols: ['h2'] }),
    );
    assert.deepEqual([secure.remoteAddress, secure.header?.alpn], ['203.0.113.7', 'http/1.1']);
  });
});

test('without a proxyProtocolError listener, errors still only close the socket', async () => {
  const app = httpApp({ mode: 'require' });
  assert.equal(app.listenerCount(PROXY_PROTOCOL_ERROR_EVENT), 0);
  const port = await start(app);
  const r = await exchange(port, [Buffer.from('\r\n\r\n\x00\r\nQUIT\n\x99')]);
  assert.equal(r.data.length, 0);
  const ok = await exchange(port, [V2, GET()]);
  assert.equal((JSON.parse(body(ok.data)) as Seen).remoteAddress, '203.0.113.7');
});
