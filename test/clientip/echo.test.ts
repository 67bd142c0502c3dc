/**
 * The echo server as a client meets it: real HTTP and raw TCP connections on loopback from
 * different 127.x addresses, with forwarded headers and PROXY protocol headers; and the
 * `kubepath echo` command itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEchoServer, type EchoReport, encodeProxyHeader } from '../../src/clientip/index.js';
import { projectRoot } from '../support/shared.js';

/** Send raw bytes from a local address and read everything the server answers. */
function exchange(port: number, localAddress: string, bytes: Buffer | string): Promise<{ text: string; error?: string }> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => s.write(bytes));
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => done({ text: Buffer.concat(chunks).toString(), error: e.message }));
    s.on('close', () => done({ text: Buffer.concat(chunks).toString() }));
  });
}

function jsonBody(http: string): EchoReport {
  return JSON.parse(http.slice(http.indexOf('\r\n\r\n') + 4)) as EchoReport;
}

const GET = (extra = '') => `GET /?format=json HTTP/1.1\r\nHost: echo\r\n${extra}Connection: close\r\n\r\n`;

function listen(server: Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

describe('echo server over HTTP, PROXY protocol optional from 127.0.0.2', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createEchoServer({ proxyProtocol: 'optional', proxyPeers: ['127.0.0.2/32'], trust: ['127.0.0.0/8', '10.0.0.0/8'] }) as Server;
    port = await listen(server);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('a request through a proxy: the peer, the headers as received, each strategy, and the hint', async () => {
    const r = await exchange(port, '127.0.0.1', GET('X-Forwarded-For: 1.2.3.4, 10.0.0.5\r\nX-Forwarded-For: 10.0.0.6\r\n'));
    const body = jsonBody(r.text);
    assert.equal(body.client_address, '127.0.0.1');
    assert.equal(body.proxy_protocol, null);
    assert.deepEqual(body.headers.filter(([k]) => k === 'X-Forwarded-For').map(([, v]) => v), ['1.2.3.4, 10.0.0.5', '10.0.0.6']);
    const by = (prefix: string) => body.strategies.find((s) => s.strategy.startsWith(prefix))!.client_ip;
    assert.equal(by('RemoteAddr'), '127.0.0.1');
    assert.equal(by('RightmostNonPrivate(X-Forwarded-For)'), '1.2.3.4');
    assert.equal(by('RightmostNonPrivate(Forwarded)'), null);
    assert.equal(by('RightmostTrustedRange'), '1.2.3.4');
    assert.ok(body.hints.some((h) => /is not the client the headers name \(1\.2\.3\.4\)/.test(h)), body.hints.join('\n'));
  });

  test('a PROXY v2 header from the trusted balancer names the client; the same from another peer is refused', async () => {
    const header = encodeProxyHeader({ version: 2, source: { ip: '203.0.113.9', port: 5555 }, destination: { ip: '10.0.0.1', port: 80 } });
    const ok = await exchange(port, '127.0.0.2', Buffer.concat([header, Buffer.from(GET())]));
    const body = jsonBody(ok.text);
    assert.equal(body.client_address, '203.0.113.9');
    assert.equal(body.client_port, 5555);
    assert.equal(body.peer.address, '127.0.0.2');
    assert.notEqual(body.proxy_protocol, null);
    const refused = await exchange(port, '127.0.0.3', Buffer.concat([header, Buffer.from(GET())]));
    assert.doesNotMatch(refused.text, /HTTP\/1\.1 200/);
  });

  test('text answer by default', async () => {
    const r = await exchange(port, '127.0.0.4', 'GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n');
    assert.match(r.text, /Content-Type: text\/plain/);
    assert.match(r.text, /\r\n\r\nclient_address=127\.0\.0\.4\nclient_port=\d+\npeer=127\.0\.0\.4:\d+\nproxy_protocol=none\n/);
  });
});

test('raw TCP echo: a PROXY v1 header (required) and the answer at once', async () => {
  const server = createEchoServer({ proxyProtocol: 'require', tcp: true }) as Server;
  const port = await listen(server);
  try {
    const r = await exchange(port, '127.0.0.5', 'PROXY TCP4 198.51.100.20 10.0.0.1 40000 80\r\n');
    assert.match(r.text, /^client_address=198\.51\.100\.20\nclient_port=40000\npeer=127\.0\.0\.5:\d+\n/);
    assert.match(r.text, /hint: raw TCP: no headers/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('kubepath echo: listens, answers JSON, stops on SIGTERM; bad flags are exit 1', async () => {
  const bin = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
  const child = spawn(process.execPath, [bin, 'echo', '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((r, j) => {
      child.stdout.once('data', (d: Buffer) => r(d.toString()));
      child.once('exit', (c) => j(new Error(`exited ${c}`)));
    });
    const m = /listening on 127\.0\.0\.1:(\d+) \(HTTP, PROXY protocol off\)/.exec(line);
    assert.ok(m, line);
    const res = await fetch(`http://127.0.0.1:${m[1]}/`, { headers: { accept: 'application/json' } });
    const body = (await res.json()) as EchoReport;
    assert.equal(body.client_address, '127.0.0.1');
  } finally {
    child.kill('SIGTERM');
  }
  const bad = spawn(process.execPath, [bin, 'echo', '--proxy-protocol', 'optional'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => bad.once('exit', r));
  assert.equal(code, 1);
  assert.match(err, /--proxy-protocol optional: give the peers that may send a header with --proxy-peer CIDR/);
});
