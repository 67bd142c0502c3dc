/**
 * A small cluster with ingress-nginx in front of a shop: the controller's pods and ConfigMap, an
 * IngressClass, Services with pods, and Ingresses written as text so each test can add its own.
 */
import { type Cluster, loadCluster } from '../../src/cluster/index.js';
import { findIngressNginx, ingressNginxConfig, ingressNginxTable, type IngressNginxController, type IngressNginxTable } from '../../src/edge/ingress-nginx.js';

export const CONTROLLER = `apiVersion: v1
kind: Pod
metadata:
  name: ingress-nginx-controller-7d9f
  namespace: ingress-nginx
  labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller, app.kubernetes.io/instance: ingress-nginx}
spec:
  containers: [{name: controller, image: registry.k8s.io/ingress-nginx/controller:v1.12.1, ports: [{name: http, containerPort: 80}, {name: https, containerPort: 443}]}]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
`;

export const SHOP = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{name: grpc, port: 9000, targetPort: 9000}, {name: rest, port: 8080, targetPort: 8081}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: shop}
spec: {selector: {app: nothing}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: shop, labels: {app: api}}
spec: {containers: [{name: api, ports: [{containerPort: 9000}, {containerPort: 8081}]}]}
`;

/** An Ingress in namespace shop. */
export function ingress(name: string, spec: string, annotations: Record<string, string> = {}): string {
  const ann = Object.keys(annotations).length ? `\n  annotations: ${JSON.stringify(annotations)}` : '';
  return `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ${name}\n  namespace: shop${ann}\nspec: ${spec}\n`;
}

/** A rule path to a Service port by number. */
export function path(p: string, type: string, service: string, port: number | string): string {
  const ref = typeof port === 'number' ? `{number: ${port}}` : `{name: ${port}}`;
  return `{path: "${p}", pathType: ${type}, backend: {service: {name: ${service}, port: ${ref}}}}`;
}

/** A rule for a host with paths. */
export function rule(host: string | undefined, ...paths: string[]): string {
  return `{${host ? `host: "${host}", ` : ''}http: {paths: [${paths.join(', ')}]}}`;
}

/** The controller's ConfigMap with `data`. */
export function configMap(data: Record<string, string>): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ingress-nginx-controller, namespace: ingress-nginx}\ndata: ${JSON.stringify(data)}\n`;
}

export function cluster(...docs: string[]): Cluster {
  return loadCluster([{ file: 'controller.yaml', text: CONTROLLER }, { file: 'shop.yaml', text: SHOP }, ...docs.map((text, i) => ({ file: `t${i + 1}.yaml`, text }))]);
}

/** The controller's table as findIngressNginx finds it, with the ConfigMap's configuration. */
export function tableOf(c: Cluster, overrides: Partial<IngressNginxController> = {}): IngressNginxTable {
  const [install] = findIngressNginx(c);
  if (!install) throw new Error('no ingress-nginx found');
  const config = ingressNginxConfig(install.configMap?.data ?? {}, `ConfigMap ${install.configMapName}`).config;
  return ingressNginxTable(c, { ...install.controller, ...overrides }, config);
}
