// The C references (bench/c/momentum.c: the dense loop; bench/c/sparse.c: the sparse row apply),
// built at bench time with the host's compiler and run as child processes. Built every run (it
// takes ~0.2 s each) so -march=native always matches the machine the figures come from.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress, type Reps } from './lib/figures.ts';

const here = dirname(fileURLToPath(import.meta.url));
const built = new Map<string, string | null>();

/** Path of the built binary of bench/c/<name>.c, or null (with a message) where there is no C compiler. */
export function buildNative(name = 'momentum'): string | null {
  if (built.has(name)) return built.get(name)!;
  const source = join(here, 'c', `${name}.c`);
  const binary = join(here, 'build', name);
  mkdirSync(dirname(binary), { recursive: true });
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean) as string[]) {
    try {
      execFileSync(cc, ['-O3', '-march=native', '-o', binary, source], { stdio: ['ignore', 'ignore', 'pipe'] });
      progress(`built the C reference ${name} with ${cc}`);
      built.set(name, binary);
      return binary;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code !== 'ENOENT') progress(`${cc} failed: ${e.stderr?.toString().trim() ?? e.message}`);
    }
  }
  progress('no C compiler (cc, gcc, clang): skipping the C reference figures');
  built.set(name, null);
  return null;
}

/** Runs bench/c/<name>.c with `args`; its first line is "median min max ..." over `reps`. */
function runStats(name: string, args: (string | number)[], reps: number): { median: number; reps: Reps } | null {
  const bin = buildNative(name);
  if (!bin) return null;
  const [median, min, max] = execFileSync(bin, args.map(String), { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  return { median, reps: { n: reps, min, max } };
}

/** Median, min and max rows/s of the C sparse row apply (bench/c/sparse.c) over `reps` pushes. */
export function runNativeSparse(arenaRows: number, dim: number, perPush: number, reps: number): { median: number; reps: Reps } | null {
  return runStats('sparse', [arenaRows, dim, perPush, reps], reps);
}

/** Median, min and max ns per parameter of the C loop (`rule` momentum | nesterov | copy) over `reps`. */
export function runNative(n: number, reps: number, rule: 'momentum' | 'nesterov' | 'copy'): { median: number; reps: Reps } | null {
  return runStats('momentum', [n, reps, rule], reps);
}
