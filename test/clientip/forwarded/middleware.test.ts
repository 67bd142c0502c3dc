/**
 * Middleware with real servers and real clients on loopback: node:http, Express and Fastify.
 * Client sockets are bound to different 127.x.y.z addresses to stand for different machines:
 * 127.0.0.2 is the trusted proxy, anything else a client that reaches the app directly, sending
 * whatever headers it likes. The app listens on "::" where it can, so IPv4 peers arrive as
 * ::ffff:127.x.y.z, as on a dual-stack pod.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import {
  clientIp,
  clientIpResult,
  expressClientIp,
  fastifyClientIp,
  RightmostTrustedRange,
  SingleIPHeader,
  withClientIp,
} from '../../../src/clientip/forwarded/index.js';

const PROXY = '127.0.0.2';
const strategy = new RightmostTrustedRange('x-forwarded-for', [`${PROXY}/32`, '::1/128']);

type Headers = Record<string, string | string[]>;

/** GET `path` from `localAddress` with `headers`; the response body. */
function get(port: number, localAddress: string, headers: Headers = {}, host = '127.0.0.1', path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, localAddress, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Listen on "::" (dual stack) or, without IPv6, on 127.0.0.1; the port. */
async function listen(server: http.Server): Promise<number> {
  for (const host of ['::', '127.0.0.1']) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    } catch {
      // no IPv6 here: fall back
    }
  }
  throw new Error('cannot listen');
}

const close = (server: http.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/** A reverse proxy on 127.0.0.2 that appends who connected to it, as nginx's $proxy_add_x_forwarded_for. */
async function startProxy(target: number): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const prior = req.headers['x-forwarded-for'];
    const peer = req.socket.remoteAddress!;
    const headers = { ...req.headers, 'x-forwarded-for': prior ? `${prior}, ${peer}` : peer };
    const out = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers, localAddress: PROXY, agent: false }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, PROXY, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** The same checks against any app answering its client address as the body. */
function clientChecks(name: string, port: () => number, proxyPort: () => number): void {
  test(`${name}: a direct client gets its own address, whatever it sends`, async () => {
    assert.equal(await get(port(), '127.0.0.3'), '127.0.0.3');
    assert.equal(await get(port(), '127.0.0.3', { 'X-Forwarded-For': '1.2.3.4' }), '127.0.0.3');
    assert.equal(await get(port(), '127.9.8.7', { 'X-Forwarded-For': ['1.2.3.4', '127.0.0.2'] }), '127.9.8.7');
  });

  test(`${name}: from the trusted proxy, the rightmost untrusted node (repeated lines in order)`, async () => {
    assert.equal(await get(port(), PROXY, { 'X-Forwarded-For': '6.6.6.6, 203.0.113.7' }), '203.0.113.7');
    assert.equal(await get(port(), PROXY, { 'X-Forwarded-For': ['6.6.6.6, 203.0.113.7', '127.0.0.2'] }), '203.0.113.7');
    assert.equal(await get(port(), PROXY, { 'X-Forwarded-For': '[2001:db8::7]:443' }), '2001:db8::7');
    assert.equal(await get(port(), PROXY, { 'X-Forwarded-For': '6.6.6.6, 012.0.0.5' }), 'none');
    assert.equal(await get(port(), PROXY), 'none');
  });

  test(`${name}: through a real proxy hop, a spoofed header does not help`, async () => {
    assert.equal(await get(proxyPort(), '127.0.0.5', {}, PROXY), '127.0.0.5');
    assert.equal(await get(proxyPort(), '127.0.0.5', { 'X-Forwarded-For': '9.9.9.9' }, PROXY), '127.0.0.5');
    assert.equal(await get(proxyPort(), '127.0.0.5', { 'X-Forwarded-For': '9.9.9.9, 127.0.0.2' }, PROXY), '127.0.0.5');
  });
}

/** Before the suite: start the app's server and a proxy in front of it; after it, stop both. */
function serve(start: () => http.Server | Promise<http.Server>, stop?: () => Promise<void>): { port: () => number; proxyPort: () => number } {
  let server: http.Server;
  let port = 0;
  let proxy: { server: http.Server; port: number };
  before(async () => {
    server = await start();
    port = await listen(server);
    proxy = await startProxy(port);
  });
  after(async () => {
    await close(proxy.server);
    await (stop ? stop() : close(server));
  });
  return { port: () => port, proxyPort: () => proxy.port };
}

describe('node:http', () => {
  const { port: appPort, proxyPort } = serve(() =>
    http.createServer(
      withClientIp(strategy, (req, res) => {
        if (req.url === '/real-ip') return res.end(clientIp(req, new SingleIPHeader('x-real-ip')) ?? 'none');
        if (req.url === '/why') return res.end(JSON.stringify(clientIpResult(req, strategy)));
        res.end(req.clientIp ?? 'none');
      }),
    ),
  );

  clientChecks('node:http', appPort, proxyPort);

  test('node:http: X-Real-IP sent twice: the last line counts (Node would join them)', async () => {
    const body = await get(appPort(), PROXY, { 'X-Real-IP': ['6.6.6.6', '203.0.113.7'] }, '127.0.0.1', '/real-ip');
    assert.equal(body, '203.0.113.7');
  });

  test('node:http: the full answer names the hop and the skipped proxies', async () => {
    const r = await get(appPort(), PROXY, { 'X-Forwarded-For': '203.0.113.7, 127.0.0.2' }, '127.0.0.1', '/why');
    const result = JSON.parse(r) as { ok: boolean; client: { ip: string; hop: number }; notes: { reason: string }[] };
    assert.equal(result.ok, true);
    assert.deepEqual([result.client.ip, result.client.hop], ['203.0.113.7', 2]);
    assert.deepEqual(result.notes.map((n) => n.reason), ['trusted-proxy']);
  });

  test('node:http: an IPv6 client on ::1', async (t) => {
    let body: string;
    try {
      body = await get(appPort(), '::1', { 'X-Forwarded-For': '203.0.113.7' }, '::1');
    } catch (e) {
      t.skip(`no IPv6 loopback: ${(e as Error).message}`);
      return;
    }
    assert.equal(body, '203.0.113.7'); // ::1 is trusted here
  });
});

describe('Express', () => {
  const { port, proxyPort } = serve(() => {
    const app = express();
    app.use(expressClientIp(strategy));
    app.get('/', (req, res) => {
      res.type('text').send((req as typeof req & { clientIp?: string }).clientIp ?? 'none');
    });
    return http.createServer(app);
  });

  clientChecks('Express', port, proxyPort);
});

describe('Fastify', () => {
  const app = Fastify();
  const { port, proxyPort } = serve(
    async () => {
      await app.register(fastifyClientIp, { strategy });
      app.get('/', async (request) => (request as typeof request & { clientIp?: string }).clientIp ?? 'none');
      await app.ready();
      return app.server;
    },
    () => app.close(),
  );

  clientChecks('Fastify', port, proxyPort);
});
