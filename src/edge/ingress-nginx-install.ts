/**
 * Finding ingress-nginx in a cluster: its controller pods (the Helm chart's labels
 * `app.kubernetes.io/name: ingress-nginx` and `app.kubernetes.io/component: controller`), the
 * flags that decide which Ingresses it serves, its ConfigMap, and the IngressClasses that name it.
 * What is not written down (flags when the pods' args are not known, the ConfigMap's name) is
 * assumed as the chart and the static manifests set it, and reported.
 *
 * @module
 */
import type { Cluster, ConfigMap, Container, IngressClass, Pod } from '../cluster/index.js';

/** The controller's class in IngressClass `spec.controller` (`--controller-class`). */
export const INGRESS_NGINX_CONTROLLER_CLASS = 'k8s.io/ingress-nginx';
export const INGRESS_NGINX_POD_LABELS = { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' } as const;

/** The controller flags that decide what it serves. */
export interface IngressNginxController {
  /** Namespace the controller runs in. */
  readonly namespace: string;
  /** `--ingress-class` (default `nginx`): the annotation value it accepts, and the class name with `--ingress-class-by-name`. */
  readonly ingressClass: string;
  /** `--controller-class` (default `k8s.io/ingress-nginx`): IngressClasses with this `spec.controller` are its. */
  readonly controllerClass: string;
  /** `--watch-ingress-without-class` (default false): serve Ingresses that name no class. */
  readonly watchIngressWithoutClass: boolean;
  /** `--ingress-class-by-name` (default false): also serve `spec.ingressClassName: <--ingress-class>` without an IngressClass naming this controller. */
  readonly ingressClassByName: boolean;
  /** `--default-backend-service` (`ns/name`): where unmatched requests go; unset, the controller answers 404 itself. */
  readonly defaultBackendService?: string | undefined;
  /** `--configmap` (`ns/name`). */
  readonly configMap?: string | undefined;
  /** `--https-port` (default 443): the port X-Forwarded-Port reports as 443. */
  readonly httpsPort: number;
}

/** The controller flags' defaults in namespace `ns`. */
export function ingressNginxControllerDefaults(namespace: string): IngressNginxController {
  return { namespace, ingressClass: 'nginx', controllerClass: INGRESS_NGINX_CONTROLLER_CLASS, watchIngressWithoutClass: false, ingressClassByName: false, httpsPort: 443 };
}

/** One ingress-nginx installation found in a cluster. */
export interface IngressNginxInstallation {
  readonly controller: IngressNginxController;
  /** The Helm release (`app.kubernetes.io/instance`), when labelled. */
  readonly release?: string | undefined;
  readonly pods: readonly Pod[];
  /** `ns/name` of the controller's ConfigMap, and the object when it was given. */
  readonly configMapName: string;
  readonly configMap?: ConfigMap | undefined;
  /** IngressClasses whose `spec.controller` is this controller's class. */
  readonly ingressClasses: readonly IngressClass[];
  /** What was not written down and was taken as the chart sets it. */
  readonly assumed: readonly string[];
}

/** A container's args, when the Pod's decoder keeps them (read without depending on that field). */
function argsOf(container: Container): readonly string[] {
  const args = (container as { args?: unknown }).args;
  return Array.isArray(args) && args.every((a) => typeof a === 'string') ? (args as string[]) : [];
}

/** `--name=value` or `--name value` from args; `true` for a bare boolean flag. */
function flag(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}` || a === `-${name}`) {
      const next = args[i + 1];
      return next !== undefined && !next.startsWith('-') ? next : 'true';
    }
    for (const prefix of [`--${name}=`, `-${name}=`]) if (a.startsWith(prefix)) return a.slice(prefix.length);
  }
  return undefined;
}

/** `$(POD_NAMESPACE)/x` as the chart writes it, with the pod's namespace. */
function expandNamespace(value: string, namespace: string): string {
  return value.replace('$(POD_NAMESPACE)', namespace);
}

/** The chart's `ingress-nginx.fullname`: the release name when it contains `ingress-nginx`, else `<release>-ingress-nginx`. */
export function chartFullname(release: string): string {
  return (release.includes('ingress-nginx') ? release : `${release}-ingress-nginx`).slice(0, 63);
}

/** The ingress-nginx installations of a cluster, one per namespace and Helm release of controller pods. */
export function findIngressNginx(cluster: Pick<Cluster, 'pods' | 'configMaps' | 'ingressClasses'>): IngressNginxInstallation[] {
  const groups = new Map<string, Pod[]>();
  for (const pod of cluster.pods) {
    const labels = pod.metadata.labels ?? {};
    if (!Object.entries(INGRESS_NGINX_POD_LABELS).every(([k, v]) => labels[k] === v)) continue;
    const key = `${pod.metadata.namespace ?? 'default'}\u0000${labels['app.kubernetes.io/instance'] ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), pod]);
  }
  const out: IngressNginxInstallation[] = [];
  for (const [key, pods] of groups) {
    const [namespace, releaseLabel] = key.split('\u0000') as [string, string];
    const assumed: string[] = [];
    const release = releaseLabel || undefined;
    const containers = pods[0]!.spec.containers;
    const container = containers.find((c) => c.name === 'controller') ?? containers.find((c) => argsOf(c).some((a) => a.includes('--configmap') || a.includes('--ingress-class'))) ?? containers[0];
    const args = container ? argsOf(container) : [];
    const base = ingressNginxControllerDefaults(namespace);
    if (args.length === 0) assumed.push(`the controller's args are not known: the flags' defaults (--ingress-class=nginx, --controller-class=${INGRESS_NGINX_CONTROLLER_CLASS}, --watch-ingress-without-class=false)`);
    const bool = (name: string, def: boolean) => {
      const v = flag(args, name);
      return v === undefined ? def : v === 'true' || v === '1';
    };
    const chartCM = `${namespace}/${chartFullname(release ?? 'ingress-nginx')}-controller`;
    const cmFlag = flag(args, 'configmap');
    const configMapName = cmFlag ? expandNamespace(cmFlag, namespace) : chartCM;
    if (!cmFlag) {
      assumed.push(
        release
          ? `ConfigMap ${configMapName}: the chart's name for release "${release}" (the controller's --configmap flag is not known)`
          : `ConfigMap ${configMapName}: the name the static manifests and the default Helm release use (no app.kubernetes.io/instance label, no --configmap flag known)`,
      );
    }
    const dbs = flag(args, 'default-backend-service');
    const controller: IngressNginxController = {
      ...base,
      ingressClass: flag(args, 'ingress-class') ?? base.ingressClass,
      controllerClass: flag(args, 'controller-class') ?? base.controllerClass,
      watchIngressWithoutClass: bool('watch-ingress-without-class', false),
      ingressClassByName: bool('ingress-class-by-name', false),
      defaultBackendService: dbs ? expandNamespace(dbs, namespace) : undefined,
      configMap: configMapName,
      httpsPort: Number(flag(args, 'https-port') ?? 443) || 443,
    };
    const [cmNs, cmName] = configMapName.split('/') as [string, string];
    const configMap = cluster.configMaps.find((c) => c.metadata.namespace === cmNs && c.metadata.name === cmName);
    if (!configMap) assumed.push(`ConfigMap ${configMapName} was not given: every key has ingress-nginx's default`);
    const ingressClasses = cluster.ingressClasses.filter((c) => c.spec.controller === controller.controllerClass);
    out.push({ controller, release, pods, configMapName, configMap, ingressClasses, assumed });
  }
  return out;
}
