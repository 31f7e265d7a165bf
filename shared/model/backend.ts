// Picks the fastest tfjs backend this machine can run, once per process.
// Order: tfjs-node-gpu, tfjs-node (libtensorflow; optionalDependencies that are absent where the
// native download failed), then wasm (SIMD, single thread in Node), then the pure-JS cpu
// backend, which is ~20x slower than wasm on the CTR step (measured: see make bench).
// We import tfjs-core + the backends rather than the @tensorflow/tfjs bundle: the bundle also
// loads layers/converter/data and takes ~660 ms to import against ~250 ms here.
import { readEnv } from '../env.ts';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConfigError, UnavailableError } from '../errors.ts';

/** Values of FLYWHEEL_TF_BACKEND; unset means "best available". */
export type ForcedBackend = 'cpu' | 'wasm' | 'tensorflow';
const FORCEABLE: readonly ForcedBackend[] = ['cpu', 'wasm', 'tensorflow'];

let chosen: Promise<string> | undefined;

/**
 * Initialises the tfjs backend and returns its name ('tensorflow', 'wasm' or 'cpu').
 * Idempotent: later calls (even concurrent ones) return the first call's result.
 * FLYWHEEL_TF_BACKEND=cpu|wasm|tensorflow forces one and fails if it cannot start.
 */
export function initTensorBackend(log: (msg: string) => void = defaultLog): Promise<string> {
  chosen ??= choose(log).catch((err: unknown) => {
    chosen = undefined; // a failed start may be retried, e.g. after fixing the env var
    throw err;
  });
  return chosen;
}

async function choose(log: (msg: string) => void): Promise<string> {
  const forced = readEnv().tfBackend;
  if (forced !== undefined && forced !== '') {
    if (!(FORCEABLE as readonly string[]).includes(forced)) {
      throw new ConfigError('FLYWHEEL_TF_BACKEND', `"${forced}" is not one of ${FORCEABLE.join(', ')}`);
    }
    const ok = forced === 'tensorflow' ? await tryNative(log)
      : forced === 'wasm' ? await tryWasm(log)
      : await tf.setBackend('cpu');
    if (!ok) throw new UnavailableError(`FLYWHEEL_TF_BACKEND=${forced} but that backend failed to start` +
      (forced === 'tensorflow' ? ' (is @tensorflow/tfjs-node or -node-gpu installed?)' : ''));
    return announce(log, 'forced by FLYWHEEL_TF_BACKEND');
  }
  if (await tryNative(log)) return announce(log, 'native libtensorflow');
  if (await tryWasm(log)) return announce(log, 'wasm');
  if (!(await tf.setBackend('cpu'))) throw new UnavailableError('no tfjs backend could start, not even cpu');
  return announce(log, 'fallback');
}

async function announce(log: (msg: string) => void, why: string): Promise<string> {
  await tf.ready();
  const name = tf.getBackend();
  const simd = name === 'wasm' ? ` simd=${String(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))}` : '';
  log(`tfjs backend: ${name} (${why})${simd}`);
  return name;
}

/** tfjs-node(-gpu) registers the 'tensorflow' backend on import; absent packages throw. */
async function tryNative(log: (msg: string) => void): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // A computed specifier keeps tsc from requiring the (optional, often absent) types.
      const specifier: string = pkg;
      await import(specifier);
    } catch (err) {
      if (!isMissing(err, pkg)) log(`tfjs backend: ${pkg} is installed but failed to load: ${errText(err)}`);
      continue;
    }
    try {
      if (await tf.setBackend('tensorflow')) return true;
    } catch (err) {
      log(`tfjs backend: ${pkg} loaded but 'tensorflow' did not start: ${errText(err)}`);
    }
  }
  return false;
}

async function tryWasm(log: (msg: string) => void): Promise<boolean> {
  const before = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') };
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The Node build finds its .wasm next to its own file via __dirname, which breaks once
    // bundled; point it at the package's dist/ explicitly. Node never gets the threaded
    // build (tfjs#3830), so this loads tfjs-backend-wasm-simd.wasm when V8 has SIMD.
    const dir = wasmDir();
    if (dir !== undefined) wasm.setWasmPaths(dir);
    return await tf.setBackend('wasm');
  } catch (err) {
    log(`tfjs backend: wasm failed to start: ${errText(err)}`);
    return false;
  } finally {
    // Emscripten's runtime adds process handlers that rethrow every uncaught error and
    // rejection: that overrides the service's own handlers, and Node then prints the whole
    // minified wasm glue (~1 MB on one line) as the error's source line. Take them out.
    for (const l of process.listeners('uncaughtException')) {
      if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
    }
    for (const l of process.listeners('unhandledRejection')) {
      if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
    }
  }
}

function wasmDir(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    const dir = dirname(main);
    return existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm')) ? dir + '/' : undefined;
  } catch {
    return undefined;
  }
}

/** The package itself is absent (not: present but its native addon failed to load). */
function isMissing(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && errText(err).includes(`'${pkg}'`);
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  // tfjs-backend-wasm rejects with a plain { message } object.
  const msg = (err as { message?: unknown } | null)?.message;
  return typeof msg === 'string' ? msg : String(err);
}

function defaultLog(msg: string): void {
  process.stderr.write(msg + '\n');
}
