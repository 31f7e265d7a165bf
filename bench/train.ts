// Figure 6: the worker's training step (CtrModel.trainStep) at the reference shapes:
// B=1024, 26 fields x 16-dim embeddings, ~8,000 unique rows, MLP 256-128, on the backend the
// worker would pick. The reference is external, not measured in this run: PyTorch 1.13 CPU,
// 1 thread, 16 ms/step, measured earlier on this machine (there is no PyTorch here to rerun).
import { CASES, initBackend, runCase } from './train-step.ts';
import { figure, progress, sampled } from './lib/figures.ts';

const PYTORCH_1T_MS = 16;

export async function benchTrain(): Promise<void> {
  const backend = await initBackend();
  const c = CASES.find((x) => x.name === 'criteo-like')!;
  progress(`train step on tfjs-${backend}: B=${c.batch}, ${c.fields} fields x ${c.embDim}, MLP ${c.hidden.join('-')}`);
  const r = runCase(c, 20, 5);
  figure(
    sampled(`train.step.tfjs-${backend}.B1024-26x16-256-128`, 'ms/step', r.samplesMs),
    { name: 'train.step.pytorch-1.13-cpu-1thread (external)', value: PYTORCH_1T_MS, unit: 'ms/step' },
    {
      target: '<= 1.5x PyTorch 1 thread (ratio <= 1.5)', check: (x) => x <= 1.5,
      note: `reference measured on this machine before, not in this run; median of 20 steps (min ${r.msMin.toFixed(1)} ms), `
        + `${r.uniqueRows} unique rows, ${Math.round((c.batch * 1000) / r.msMedian)} examples/s; leaked tensors ${r.leakedTensors}`,
    },
  );
}
