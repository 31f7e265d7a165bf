// Private NATS and Redis servers for fault runs, on free loopback ports, so restarting them
// disturbs nothing else on the machine. NATS keeps its JetStream store across restarts (the
// same directory); Redis keeps nothing unless asked to, as in the tests' servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../shared/index.ts';
import { tcpReachable } from '../../cluster/infra-check.ts';
import { freePort } from '../../cluster/local-cluster.ts';

export class PrivateServer {
  private proc?: ChildProcess;

  private constructor(readonly name: string, readonly port: number, private readonly command: string, private readonly args: string[]) {}

  static async nats(): Promise<PrivateServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'fw-chaos-nats-'));
    const s = new PrivateServer('nats', port, 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]);
    s.cleanupDir = dir;
    return s;
  }

  /** A Redis that keeps nothing on disk unless `persistence` says otherwise (e.g. --appendonly yes). */
  static async redis(persistence: string[] = ['--save', '', '--appendonly', 'no']): Promise<PrivateServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'fw-chaos-redis-'));
    const s = new PrivateServer('redis', port, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence]);
    s.cleanupDir = dir;
    return s;
  }

  private cleanupDir?: string;

  get url(): string {
    return this.name === 'nats' ? `nats://127.0.0.1:${this.port}` : `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(this.command, this.args, { stdio: 'ignore' });
    const failed = new Promise<never>((_, reject) => this.proc!.once('error', (e) => reject(new Error(`cannot start ${this.command}: ${e.message}`))));
    failed.catch(() => undefined);
    await Promise.race([waitFor(() => tcpReachable('127.0.0.1', this.port, 300), 20_000, `${this.name} on port ${this.port}`, 50), failed]);
  }

  /** Kills the server (SIGKILL: no goodbye to its clients) and waits until its port is closed. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.cleanupDir) rmSync(this.cleanupDir, { recursive: true, force: true });
  }
}
