/**
 * The built-in cluster of `kubepath demo`: three nodes, an echo server on node-1, a client pod
 * on node-3, and the echo server behind every kind of Service the seeds compare.
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
`;

/** The demo's scenarios: what the seeds compare, on the demo cluster. */
export const DEMO_SCENARIOS: { name: string; from: string; to: string; via?: string }[] = [
  { name: 'pod to pod, across nodes', from: 'pod/demo/client', to: 'pod/demo/echo:8080' },
  { name: 'pod to ClusterIP', from: 'pod/demo/client', to: 'svc/demo/echo' },
  { name: 'NodePort (Cluster), on the endpoint\'s node', from: 'user', to: 'svc/demo/echo-nodeport', via: 'node/node-1' },
  { name: 'NodePort (Cluster), on another node', from: 'user', to: 'svc/demo/echo-nodeport', via: 'node/node-2' },
  { name: 'NodePort (Local), on the endpoint\'s node', from: 'user', to: 'svc/demo/echo-nodeport-local', via: 'node/node-1' },
  { name: 'NodePort (Local), on another node', from: 'user', to: 'svc/demo/echo-nodeport-local', via: 'node/node-2' },
  { name: 'LoadBalancer (Cluster)', from: 'user', to: 'lb/demo/echo-lb' },
  { name: 'LoadBalancer (Local)', from: 'user', to: 'lb/demo/echo-lb-local' },
];
