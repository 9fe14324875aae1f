import { KubeConfig } from '@kubernetes/client-node';

/** Placeholder entry; replaced by the driver plugin. */
export function kubeConfigClass(): typeof KubeConfig {
  return KubeConfig;
}
