import t from 'tap';
import { applyUpdate, allFinite, type UpdateParams } from '../../shared/index.ts';

const p = (rule: UpdateParams['rule']): UpdateParams => ({ rule, lr: 0.1, mu: 0.9, eps: 1e-8 });

t.test('classic momentum, two steps worked by hand', async (t) => {
  const w = new Float32Array([1, -2]);
  const v = new Float32Array(2);
  // step 1: v = 0.9*0 + g = [0.5, -1];     w = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]
  applyUpdate(p('momentum'), w, v, 0, new Float32Array([0.5, -1]), 0, 2, 1);
  t.same(Array.from(v), [0.5, -1]);
  t.ok(Math.abs(w[0] - 0.95) < 1e-6 && Math.abs(w[1] + 1.9) < 1e-6, `w after step 1 = ${Array.from(w)}`);
  // step 2: g = [0.5, 0]: v = [0.45+0.5, -0.9+0] = [0.95, -0.9]; w = [0.95-0.095, -1.9+0.09] = [0.855, -1.81]
  applyUpdate(p('momentum'), w, v, 0, new Float32Array([0.5, 0]), 0, 2, 1);
  t.ok(Math.abs(v[0] - 0.95) < 1e-6 && Math.abs(v[1] + 0.9) < 1e-6);
  t.ok(Math.abs(w[0] - 0.855) < 1e-6 && Math.abs(w[1] + 1.81) < 1e-6, `w after step 2 = ${Array.from(w)}`);
});

t.test('Nesterov momentum worked by hand', async (t) => {
  const w = new Float32Array([1]);
  const v = new Float32Array([0.2]);
  // v = 0.9*0.2 + 1 = 1.18;  w = 1 - 0.1*(1 + 0.9*1.18) = 1 - 0.1*2.062 = 0.7938
  applyUpdate(p('nesterov'), w, v, 0, new Float32Array([1]), 0, 1, 1);
  t.ok(Math.abs(v[0] - 1.18) < 1e-6);
  t.ok(Math.abs(w[0] - 0.7938) < 1e-6, `w = ${w[0]}`);
});

t.test('Adagrad worked by hand, and the scale factor', async (t) => {
  const w = new Float32Array([0]);
  const a = new Float32Array([3]);
  // g = 2*0.5 = 1 (scale 0.5): a = 3 + 1 = 4; w = 0 - 0.1*1/2 = -0.05
  applyUpdate(p('adagrad'), w, a, 0, new Float32Array([2]), 0, 1, 0.5);
  t.equal(a[0], 4);
  t.ok(Math.abs(w[0] + 0.05) < 1e-7, `w = ${w[0]}`);
});

t.test('offsets: only the addressed row moves', async (t) => {
  const w = new Float32Array([1, 1, 1, 1]);
  const v = new Float32Array(4);
  applyUpdate(p('momentum'), w, v, 2, new Float32Array([9, 1, 1]), 1, 2, 1);
  t.same(Array.from(w.subarray(0, 2)), [1, 1]);
  t.ok(Math.abs(w[2] - 0.9) < 1e-6 && Math.abs(w[3] - 0.9) < 1e-6);
});

t.test('allFinite catches NaN and both infinities', async (t) => {
  t.ok(allFinite(new Float32Array([0, -1, 3e38])));
  t.notOk(allFinite(new Float32Array([0, NaN])));
  t.notOk(allFinite(new Float32Array([Infinity])));
  t.notOk(allFinite(new Float32Array([1, -Infinity])));
});
