// Local clusters on private loopback ports, for the tests that kill a node: a Redis Cluster
// (masters, optionally a replica each) and a NATS cluster with JetStream, every server a child
// process of its own with its files in a temp dir, torn down (and the dir removed) by stop().
// Readiness is polled, never slept for: the Redis Cluster is ready when every node says
// cluster_state:ok, knows every other node and every replica's link to its master is up; the
// NATS cluster when every server reports the same JetStream meta leader over all its peers.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { waitFor } from '../../shared/index.ts';
import { freePort } from '../../cluster/local-cluster.ts';
import { tcpReachable } from '../../cluster/infra-check.ts';

/** Where a server binary is: on PATH, else in /usr/sbin (Debian puts nats-server there). */
export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin']) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch { /* not here */ }
  }
  return undefined;
}

/** Why the cluster tests cannot run here ("redis-cli is not installed"), or undefined when they can. */
export function missingBinaries(names: string[]): string | undefined {
  const missing = names.filter((n) => !findBinary(n));
  return missing.length ? `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed` : undefined;
}

/** One server process; its output is kept (the last 4 kB) to say why it died. */
class Server {
  private proc?: ChildProcess;
  private out = '';

  constructor(readonly name: string, readonly port: number, private readonly bin: string, private readonly args: string[]) {}

  get running(): boolean { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }
  get pid(): number | undefined { return this.proc?.pid; }
  get log(): string { return this.out; }

  async start(): Promise<void> {
    const p = spawn(this.bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    const keep = (d: Buffer) => { this.out = (this.out + d.toString()).slice(-4096); };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    await waitFor(async () => !this.running || await tcpReachable('127.0.0.1', this.port, 300), 20_000, `${this.name} listening on ${this.port}`, 25);
    if (!this.running) throw new Error(`${this.name} exited at start: ${this.out.slice(-800)}`);
  }

  /** SIGKILL (no goodbye to clients or peers); resolves once the process is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

// ---------------------------------------------------------------------------- Redis Cluster

export interface RedisClusterNode { id: string; port: number; role: 'master' | 'replica'; masterId?: string; slots: number; ranges: [number, number][] }

export class LocalRedisCluster {
  private constructor(readonly dir: string, readonly servers: Server[], private readonly cli: string, readonly replicasPerMaster: number) {}

  /**
   * `masters` masters (at least 3: a failover needs a majority of them) and `replicasPerMaster`
   * replicas each; no persistence unless `persistence` says otherwise. `nodeTimeoutMs` is
   * cluster-node-timeout: a master unreachable that long is failed over to its replica.
   */
  static async start(opts: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number; persistence?: string[] } = {}): Promise<LocalRedisCluster> {
    const masters = opts.masters ?? 3;
    const replicas = opts.replicasPerMaster ?? 0;
    const bin = findBinary('redis-server');
    const cli = findBinary('redis-cli');
    if (!bin || !cli) throw new Error(missingBinaries(['redis-server', 'redis-cli']));
    const dir = mkdtempSync(join(tmpdir(), 'fw-redis-cluster-'));
    const servers: Server[] = [];
    const c = new LocalRedisCluster(dir, servers, cli, replicas);
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const port = await freePort();
        const bus = await freePort();
        const d = join(dir, `n${i}`);
        mkdirSync(d);
        servers.push(new Server(`redis-${i}`, port, bin, [
          '--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--dir', d,
          '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1000),
          ...(opts.persistence ?? ['--save', '', '--appendonly', 'no']),
        ]));
      }
      await Promise.all(servers.map((s) => s.start()));
      const created = await new Promise<string | undefined>((resolve) => {
        execFile(cli, ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
          { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => resolve(err ? `${stdout}${stderr}`.slice(-800) : undefined));
      });
      if (created !== undefined) throw new Error(`redis-cli --cluster create failed: ${created}`);
      await c.waitHealthy(30_000);
      return c;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  /** redis+cluster:// naming every node (a client needs one to reach the rest; all is sturdier). */
  get url(): string {
    return `redis+cluster://${this.servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`;
  }

  /** One command through redis-cli on a node ('' when it does not answer). */
  command(port: number, ...args: string[]): Promise<string> {
    return new Promise((resolve) => {
      execFile(this.cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 5_000 }, (err, stdout) => resolve(err ? '' : stdout));
    });
  }

  /** The cluster as the node on `port` sees it (CLUSTER NODES), failed nodes left out. */
  async topology(port: number): Promise<RedisClusterNode[]> {
    const out: RedisClusterNode[] = [];
    for (const line of (await this.command(port, 'CLUSTER', 'NODES')).split('\n')) {
      const f = line.trim().split(' ');
      if (f.length < 8 || f[2].includes('fail') || f[7] !== 'connected') continue;
      // Slot ranges "0-5460" or single slots "42"; "[...]" entries are slots being migrated.
      const ranges = f.slice(8).filter((r) => !r.startsWith('[')).map((r): [number, number] => {
        const [a, b] = r.split('-').map(Number);
        return [a, b ?? a];
      });
      const slots = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
      out.push({
        id: f[0], port: Number(f[1].split(':')[1].split('@')[0]), role: f[2].includes('master') ? 'master' : 'replica',
        masterId: f[3] === '-' ? undefined : f[3], slots, ranges,
      });
    }
    return out;
  }

  /** The port of the master serving `key`'s slot now. */
  async masterOf(key: string): Promise<number> {
    const live = this.servers.find((s) => s.running)!;
    const slot = Number((await this.command(live.port, 'CLUSTER', 'KEYSLOT', key)).trim());
    const m = (await this.topology(live.port)).find((n) => n.role === 'master' && n.ranges.some(([a, b]) => slot >= a && slot <= b));
    if (!m) throw new Error(`no master serves slot ${slot}`);
    return m.port;
  }

  server(port: number): Server {
    const s = this.servers.find((x) => x.port === port);
    if (!s) throw new Error(`no node on port ${port}`);
    return s;
  }

  /** kill -9 of the node on `port`. */
  kill(port: number): Promise<void> {
    return this.server(port).kill();
  }

  /** Starts a killed node again, on its port and its dir (it rejoins from its nodes.conf). */
  restart(port: number): Promise<void> {
    return this.server(port).start();
  }

  /**
   * Polls until every running node says cluster_state:ok, sees every running node connected,
   * all 16384 slots served by running masters, and each running replica's link to its master up.
   */
  async waitHealthy(timeoutMs: number): Promise<void> {
    await waitFor(() => this.healthy(), timeoutMs, 'Redis Cluster state ok on every node', 50);
  }

  async healthy(): Promise<boolean> {
    const live = this.servers.filter((s) => s.running);
    for (const s of live) {
      if (!/cluster_state:ok/.test(await this.command(s.port, 'CLUSTER', 'INFO'))) return false;
      const topo = await this.topology(s.port);
      if (topo.length !== live.length) return false;
      if (topo.filter((n) => n.role === 'master').reduce((a, n) => a + n.slots, 0) !== 16384) return false;
      const me = topo.find((n) => n.port === s.port);
      if (me?.role === 'replica' && !/master_link_status:up/.test(await this.command(s.port, 'INFO', 'replication'))) return false;
    }
    return true;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------- NATS cluster

export class LocalNatsCluster {
  private constructor(readonly dir: string, readonly servers: Server[], readonly monitorPorts: number[]) {}

  /** `nodes` servers with JetStream (file store in the temp dir) in one cluster "fw". */
  static async start(opts: { nodes?: number } = {}): Promise<LocalNatsCluster> {
    const n = opts.nodes ?? 3;
    const bin = findBinary('nats-server');
    if (!bin) throw new Error(missingBinaries(['nats-server']));
    const dir = mkdtempSync(join(tmpdir(), 'fw-nats-cluster-'));
    const ports = await Promise.all(Array.from({ length: n }, async () => ({ client: await freePort(), route: await freePort(), monitor: await freePort() })));
    const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(',');
    const servers = ports.map((p, i) => new Server(`nats-n${i + 1}`, p.client, bin, [
      '-a', '127.0.0.1', '-p', String(p.client), '-m', String(p.monitor), '-js', '-sd', join(dir, `n${i + 1}`),
      '-server_name', `n${i + 1}`, '-cluster_name', 'fw', '-cluster', `nats://127.0.0.1:${p.route}`, '-routes', routes,
    ]));
    const c = new LocalNatsCluster(dir, servers, ports.map((p) => p.monitor));
    try {
      await Promise.all(servers.map((s) => s.start()));
      await c.waitMetaLeader(30_000);
      return c;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  /** Every server's client URL, comma-separated (the natsUrl form). */
  get url(): string {
    return this.servers.map((s) => `nats://127.0.0.1:${s.port}`).join(',');
  }

  /** The JetStream meta leader as the server `i` reports it (/jsz), or undefined. */
  async metaLeader(i: number): Promise<{ leader?: string; size?: number } | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.monitorPorts[i]}/jsz`, { signal: AbortSignal.timeout(1000) });
      const j = await res.json() as { meta_cluster?: { leader?: string; cluster_size?: number } };
      return { leader: j.meta_cluster?.leader, size: j.meta_cluster?.cluster_size };
    } catch {
      return undefined;
    }
  }

  /** Polls until every running server names the same meta leader, itself one of the running ones. */
  async waitMetaLeader(timeoutMs: number): Promise<string> {
    let leader = '';
    await waitFor(async () => {
      const live = this.servers.map((s, i) => ({ s, i })).filter((x) => x.s.running);
      const seen = await Promise.all(live.map((x) => this.metaLeader(x.i)));
      const names = new Set(seen.map((m) => m?.leader ?? ''));
      if (names.size !== 1 || names.has('')) return false;
      leader = [...names][0];
      return live.some((x) => `n${x.i + 1}` === leader) && seen.every((m) => m?.size === this.servers.length);
    }, timeoutMs, 'a JetStream meta leader every NATS server agrees on', 50);
    return leader;
  }

  /** The stream's leader and replicas as the server `i` reports them (/jsz?streams=true). */
  async streamInfo(i: number, stream: string): Promise<{ leader?: string; replicas: string[] } | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.monitorPorts[i]}/jsz?streams=true`, { signal: AbortSignal.timeout(1000) });
      const j = await res.json() as { account_details?: { stream_detail?: { name: string; cluster?: { leader?: string; replicas?: { name: string }[] } }[] }[] };
      for (const a of j.account_details ?? []) {
        for (const s of a.stream_detail ?? []) {
          if (s.name === stream) return { leader: s.cluster?.leader, replicas: (s.cluster?.replicas ?? []).map((r) => r.name) };
        }
      }
      return undefined;
    } catch {
      return undefined;
    }
  }

  /** The index of the server named `n<i+1>`. */
  indexOf(name: string): number {
    return Number(name.replace(/^n/, '')) - 1;
  }

  kill(i: number): Promise<void> {
    return this.servers[i].kill();
  }

  restart(i: number): Promise<void> {
    return this.servers[i].start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
