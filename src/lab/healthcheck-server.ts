/**
 * A real kube-proxy service health check server: one HTTP listener per health check port,
 * answering every request with {@link healthCheckResponse}. The lab starts it inside a node's
 * namespace so a load balancer probe gets the answer kube-proxy would give.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HealthCheckService, healthCheckResponse } from '../kubeproxy/healthcheck.js';

export interface RunningHealthChecks {
  /** The port each service listens on (the healthCheckNodePort, or the ephemeral one given 0). */
  ports: Map<string, number>;
  /** Change the local endpoint count a service reports (after an EndpointSlice change). */
  update(services: readonly HealthCheckService[]): void;
  close(): Promise<void>;
}

/** Listen for every service on `host` (all addresses by default); `portOverride` maps ports (0 = ephemeral, for tests). */
export async function startHealthChecks(
  services: readonly HealthCheckService[],
  options: { host?: string; portOverride?: (port: number) => number } = {},
): Promise<RunningHealthChecks> {
  const current = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const servers: Server[] = [];
  const ports = new Map<string, number>();
  try {
    for (const svc of services) {
      const key = `${svc.namespace}/${svc.name}`;
      const server = createServer((_req, res) => {
        const r = healthCheckResponse(current.get(key) ?? { ...svc, localEndpoints: 0 });
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.portOverride ? options.portOverride(svc.port) : svc.port, options.host, () => resolve());
      });
      ports.set(key, (server.address() as AddressInfo).port);
    }
  } catch (e) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw e;
  }
  return {
    ports,
    update(next) {
      for (const s of next) current.set(`${s.namespace}/${s.name}`, s);
    },
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}
