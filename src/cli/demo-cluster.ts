/**
 * The built-in cluster of `kubepath demo`: three nodes, an echo server on node-1, a client pod
 * on node-3, and the echo server behind every kind of Service the seeds compare; then the
 * proxies of the seeds' harder half: an L7 load balancer (UCloud ULB7), ingress-nginx behind a
 * load balancer, and an Istio mesh (sidecars, an ingress gateway reading PROXY protocol).
 *
 * @module
 */
export const DEMO_CLUSTER = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
metadata: {name: demo}
serviceCIDRs: [10.0.0.0/16]
podNetwork: {type: routed, cidrs: [10.180.0.0/16]}
nodeNetwork: {cidrs: [10.240.0.0/24]}
nodes:
  - {name: node-1, internalIPs: [10.240.0.3], podCIDRs: [10.180.0.0/24]}
  - {name: node-2, internalIPs: [10.240.0.4], podCIDRs: [10.180.1.0/24]}
  - {name: node-3, internalIPs: [10.240.0.5], podCIDRs: [10.180.2.0/24]}
externalClients:
  - {name: user, address: 198.51.100.7}
loadBalancer: {delivery: VIP}
loadBalancers:
  - {service: istio-system/istio-ingressgateway, product: L4 LB with PROXY v2, mode: proxy, proxyProtocol: v2, sourceAddress: 10.240.0.250, delivery: NodePort}
proxies:
  - name: istio-ingressgateway
    workload: pod/istio-system/gateway
    port: 8080
    type: envoy
    acceptProxyProtocol: true
    useRemoteAddress: true
    upstream: svc/mesh/httpbin:http
    upstreamEndpoints: true
---
apiVersion: v1
kind: Pod
metadata: {name: echo, namespace: demo, labels: {app: echo}}
spec:
  nodeName: node-1
  containers: [{name: echo, image: registry.k8s.io/echoserver:1.10, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo}
spec:
  nodeName: node-3
  containers: [{name: client, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-nodeport, namespace: demo}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-nodeport-local, namespace: demo}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30081}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-lb, namespace: demo}
spec:
  type: LoadBalancer
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.10}]}}
---
apiVersion: v1
kind: Service
metadata: {name: echo-lb-local, namespace: demo}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.11}]}}
---
apiVersion: v1
kind: Service
metadata:
  name: echo-ulb7
  namespace: demo
  annotations: {service.beta.kubernetes.io/ucloud-load-balancer-vserver-protocol: http}
spec:
  type: LoadBalancer
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.12}]}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  namespace: ingress-nginx
  labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/instance: ingress-nginx, app.kubernetes.io/component: controller}
spec:
  nodeName: node-2
  containers:
    - name: controller
      image: registry.k8s.io/ingress-nginx/controller:v1.12.1
      args: [/nginx-ingress-controller, --controller-class=k8s.io/ingress-nginx, --ingress-class=nginx, --configmap=$(POD_NAMESPACE)/ingress-nginx-controller]
      ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/instance: ingress-nginx, app.kubernetes.io/component: controller}
  ports: [{name: http, port: 80, targetPort: http}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.20}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo, namespace: demo}
spec:
  ingressClassName: nginx
  rules:
    - host: echo.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {name: http}}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: httpbin, namespace: mesh, labels: {app: httpbin}}
spec:
  nodeName: node-1
  containers: [{name: httpbin, image: docker.io/kong/httpbin, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: sleep, namespace: mesh}
spec:
  nodeName: node-3
  containers: [{name: sleep, image: curlimages/curl}]
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: mesh}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 80}]
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Pod
metadata: {name: gateway, namespace: istio-system, labels: {istio: ingressgateway}}
spec:
  nodeName: node-2
  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2, args: [proxy, router], ports: [{name: http2, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  type: LoadBalancer
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
status: {loadBalancer: {ingress: [{ip: 203.0.113.30}]}}
`;

/** A scenario of the demo: a trace on the demo cluster, optionally with what-ifs and request headers. */
export interface DemoScenario {
  name: string;
  from: string;
  to: string;
  via?: string;
  host?: string;
  /** `--set` what-ifs, applied to the demo cluster for this scenario. */
  set?: string[];
  /** Header fields the client sends itself (`-H`). */
  headers?: string[];
}

/** The demo's scenarios: what the seeds compare, on the demo cluster. */
export const DEMO_SCENARIOS: DemoScenario[] = [
  { name: 'pod to pod, across nodes', from: 'pod/demo/client', to: 'pod/demo/echo:8080' },
  { name: 'pod to ClusterIP', from: 'pod/demo/client', to: 'svc/demo/echo' },
  { name: 'NodePort (Cluster), on the endpoint\'s node', from: 'user', to: 'svc/demo/echo-nodeport', via: 'node/node-1' },
  { name: 'NodePort (Cluster), on another node', from: 'user', to: 'svc/demo/echo-nodeport', via: 'node/node-2' },
  { name: 'NodePort (Local), on the endpoint\'s node', from: 'user', to: 'svc/demo/echo-nodeport-local', via: 'node/node-1' },
  { name: 'NodePort (Local), on another node', from: 'user', to: 'svc/demo/echo-nodeport-local', via: 'node/node-2' },
  { name: 'LoadBalancer (Cluster)', from: 'user', to: 'lb/demo/echo-lb' },
  { name: 'LoadBalancer (Local)', from: 'user', to: 'lb/demo/echo-lb-local' },
];

/** The seeds' proxies (000, 002, 004): the client's address crossing connections. */
export const DEMO_PROXY_SCENARIOS: DemoScenario[] = [
  { name: 'UCloud ULB7 (HTTP), Cluster', from: 'user', to: 'lb/demo/echo-ulb7' },
  { name: 'ingress-nginx behind an LB (Local)', from: 'user', to: 'lb/ingress-nginx/ingress-nginx-controller', host: 'echo.example.com' },
  { name: 'ingress-nginx behind an LB (Cluster)', from: 'user', to: 'lb/ingress-nginx/ingress-nginx-controller', host: 'echo.example.com', set: ['svc/ingress-nginx/ingress-nginx-controller.spec.externalTrafficPolicy=Cluster'] },
  {
    name: 'ingress-nginx, use-forwarded-headers, forged XFF',
    from: 'user',
    to: 'lb/ingress-nginx/ingress-nginx-controller',
    host: 'echo.example.com',
    set: ['cm/ingress-nginx/ingress-nginx-controller.data.use-forwarded-headers=true'],
    headers: ['X-Forwarded-For: 1.2.3.4'],
  },
  { name: 'Istio sidecars, REDIRECT', from: 'pod/mesh/sleep', to: 'svc/mesh/httpbin' },
  { name: 'Istio sidecars, TPROXY', from: 'pod/mesh/sleep', to: 'svc/mesh/httpbin', set: ['pod/mesh/httpbin.metadata.annotations[sidecar.istio.io/interceptionMode]=TPROXY'] },
  { name: 'Istio ingress gateway, PROXY v2 from the LB', from: 'user', to: 'lb/istio-system/istio-ingressgateway' },
];
