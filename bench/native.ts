// The C reference of the dense loop (bench/c/momentum.c), built at bench time with the host's
// compiler and run as a child process. Built every run (it takes ~0.2 s) so -march=native
// always matches the machine the figures come from.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress, type Reps } from './lib/figures.ts';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'c', 'momentum.c');
const BINARY = join(here, 'build', 'momentum');

let built: string | null | undefined;

/** Path of the built binary, or null (with a message) where there is no C compiler. */
export function buildNative(): string | null {
  if (built !== undefined) return built;
  mkdirSync(dirname(BINARY), { recursive: true });
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean) as string[]) {
    try {
      execFileSync(cc, ['-O3', '-march=native', '-o', BINARY, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
      progress(`built the C reference with ${cc}`);
      return (built = BINARY);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code !== 'ENOENT') progress(`${cc} failed: ${e.stderr?.toString().trim() ?? e.message}`);
    }
  }
  progress('no C compiler (cc, gcc, clang): skipping the C reference figures');
  return (built = null);
}

/** Median, min and max ns per parameter of the C loop (`rule` momentum | nesterov | copy) over `reps`. */
export function runNative(n: number, reps: number, rule: 'momentum' | 'nesterov' | 'copy'): { median: number; reps: Reps } | null {
  const bin = buildNative();
  if (!bin) return null;
  const [median, min, max] = execFileSync(bin, [String(n), String(reps), rule], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  return { median, reps: { n: reps, min, max } };
}
