// The benchmark suite (`make bench`): one JSON line per figure on stdout, progress on stderr,
// a summary line at the end. Each figure holds its value against a reference measured in the
// same run (see bench/lib/figures.ts).
//   node --import tsx bench/run.ts [--only dense,kernels,sparse,push,snapshot,codec,train,scaling,memory,retrieval]
//                                  [--scaling-events 40000] [--scaling-reps 5]
import { parseArgs } from 'node:util';
import { allErrors, allFigures, progress } from './lib/figures.ts';
import { busyWarning, describeMachine } from './lib/machine.ts';

const SUITES: Record<string, (opts: { scalingEvents: number; scalingReps: number }) => Promise<void>> = {
  dense: async () => (await import('./dense.ts')).benchDense(),
  kernels: async () => (await import('./kernels.ts')).benchKernels(),
  sparse: async () => (await import('./sparse.ts')).benchSparse(),
  push: async () => (await import('./push.ts')).benchPush(),
  snapshot: async () => (await import('./snapshot.ts')).benchSnapshot(),
  codec: async () => (await import('./codec.ts')).benchCodec(),
  train: async () => (await import('./train.ts')).benchTrain(),
  scaling: async (o) => (await import('./scaling.ts')).benchScaling(o.scalingEvents, o.scalingReps),
  memory: async () => (await import('./memory.ts')).benchMemory(),
  retrieval: async () => (await import('./retrieval.ts')).benchRetrieval(),
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'scaling-events': { type: 'string', default: '40000' },
      'scaling-reps': { type: 'string', default: '5' },
    },
  });
  const names = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(SUITES);
  const unknown = names.filter((n) => !SUITES[n]);
  if (unknown.length) {
    process.stderr.write(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(SUITES).join(', ')}\n`);
    return 2;
  }
  const t0 = performance.now();
  const machine = describeMachine();
  process.stdout.write(`${JSON.stringify({ machine })}\n`);
  progress(`${machine.cpu}, ${machine.cores} cores (${machine.simd.join(' ') || 'no SIMD flags read'}), load average ${machine.loadAverage.join(' ')}, node ${machine.node}`);
  const busy = busyWarning(machine);
  if (busy) progress(`WARNING ${busy}`);
  const failed: string[] = [];
  for (const name of names) {
    const s0 = performance.now();
    progress(`--- ${name}`);
    try {
      await SUITES[name]({ scalingEvents: Number(values['scaling-events']), scalingReps: Number(values['scaling-reps']) });
    } catch (err) {
      // One broken suite (e.g. a server down) must not hide the others' figures.
      failed.push(name);
      progress(`${name} failed: ${(err as Error).stack ?? err}`);
    }
    progress(`${name} took ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  }
  const figs = allFigures();
  const judged = figs.filter((f) => f.met !== undefined);
  const missed = judged.filter((f) => !f.met).map((f) => f.name);
  const unsteady = [...new Set(figs.filter((f) => f.warnings?.length).map((f) => f.name))];
  const atEnd = describeMachine().loadAverage;
  process.stdout.write(`${JSON.stringify({
    summary: true, suites: names, failedSuites: failed, figures: figs.length,
    targets: judged.length, targetsMet: judged.length - missed.length, missed, unsteady, errors: allErrors(),
    machine: { ...machine, loadAverageAtEnd: atEnd, busyAtStart: busy !== null },
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  })}\n`);
  if (unsteady.length) progress(`${unsteady.length} figure(s) with repetitions that spread more than 20% or too few: ${unsteady.join(', ')}`);
  return failed.length ? 1 : 0;
}

// Explicit exit: NATS/Redis clients or tfjs may leave handles that would keep the process up.
process.exit(await main());
