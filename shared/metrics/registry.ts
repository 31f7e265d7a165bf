// Prometheus metrics: one registry per process, default process metrics included, labelled
// with the service name so a scrape of several processes stays apart.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createRegistry(service: string, labels: Record<string, string> = {}): Registry {
  const r = new Registry();
  r.setDefaultLabels({ service, ...labels });
  collectDefaultMetrics({ register: r });
  return r;
}
