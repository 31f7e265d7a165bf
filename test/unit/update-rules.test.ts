// Each update rule, two or three steps worked by hand (f32 storage: tolerances of ~1e-6 relative).
import t from 'tap';
import { ConfigError, UPDATE_RULES, allFinite, resolveRule, slotNames, type RuleChoice } from '../../shared/index.ts';

const f32 = (...x: number[]) => new Float32Array(x);
const near = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol;
function rule(choice: RuleChoice, lr = 0.1) {
  const r = resolveRule(choice, { lr, mu: 0.9 }, 'test');
  return { ...r, apply: (w: Float32Array, s: Float32Array, off: number, g: Float32Array, gScale = 1, lrScale = 1) =>
    r.rule.apply(w, s, off, g, 0, g.length, gScale, lrScale, r.hp) };
}

t.test('classic momentum, two steps worked by hand', async (t) => {
  const m = rule('momentum');
  const w = f32(1, -2), v = new Float32Array(2);
  // step 1: v = 0.9*0 + g = [0.5, -1];     w = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]
  m.apply(w, v, 0, f32(0.5, -1));
  t.same(Array.from(v), [0.5, -1]);
  t.ok(near(w[0], 0.95) && near(w[1], -1.9), `w after step 1 = ${Array.from(w)}`);
  // step 2: g = [0.5, 0]: v = [0.45+0.5, -0.9+0] = [0.95, -0.9]; w = [0.95-0.095, -1.9+0.09] = [0.855, -1.81]
  m.apply(w, v, 0, f32(0.5, 0));
  t.ok(near(v[0], 0.95) && near(v[1], -0.9));
  t.ok(near(w[0], 0.855) && near(w[1], -1.81), `w after step 2 = ${Array.from(w)}`);
});

t.test('Nesterov momentum worked by hand', async (t) => {
  const w = f32(1), v = f32(0.2);
  // v = 0.9*0.2 + 1 = 1.18;  w = 1 - 0.1*(1 + 0.9*1.18) = 1 - 0.1*2.062 = 0.7938
  rule('nesterov').apply(w, v, 0, f32(1));
  t.ok(near(v[0], 1.18));
  t.ok(near(w[0], 0.7938), `w = ${w[0]}`);
});

t.test('Adagrad worked by hand: the clip scales g, the rate scale scales the step', async (t) => {
  const a = rule('adagrad');
  const w = f32(0), acc = f32(3);
  // gScale 0.5: g = 2*0.5 = 1: accum = 3 + 1 = 4; w = 0 - 0.1*1/2 = -0.05
  a.apply(w, acc, 0, f32(2), 0.5);
  t.equal(acc[0], 4);
  t.ok(near(w[0], -0.05, 1e-7), `w = ${w[0]}`);
  // lrScale 0.5, g = 3: accum = 4 + 9 = 13; w = -0.05 - 0.05*3/sqrt(13) = -0.05 - 0.0416025 = -0.0916025
  a.apply(w, acc, 0, f32(3), 1, 0.5);
  t.equal(acc[0], 13);
  t.ok(near(w[0], -0.0916025), `w = ${w[0]}`);
});

t.test('Adam worked by hand, with bias correction per row', async (t) => {
  const a = rule('adam'); // beta1 0.9, beta2 0.999, eps 1e-8
  t.same(a.rule.slotsOf(a.hp), ['m', 'v', 't']);
  // Two rows of dim 1: row r's slots m, v, t at [3r, 3r+1, 3r+2].
  const w = f32(1, 1), s = new Float32Array(6);
  // step 1, g = 1: m = 0.1, v = 0.001, t = 1; m^ = 0.1/(1-0.9) = 1, v^ = 0.001/(1-0.999) = 1
  //   w = 1 - 0.1 * 1/(1 + 1e-8) = 0.9   (uncorrected it would move 0.1*0.1/sqrt(0.001) = 0.316)
  a.apply(w, s, 0, f32(1));
  t.ok(near(w[0], 0.9) && near(s[0], 0.1) && near(s[1], 0.001, 1e-9) && s[2] === 1, `step 1: w=${w[0]} slots=${Array.from(s.subarray(0, 3))}`);
  // step 2, g = 1: m = 0.09 + 0.1 = 0.19, v = 0.000999 + 0.001 = 0.001999; corrections 0.19 and
  //   0.001999: m^ = v^ = 1, w = 0.9 - 0.1 = 0.8
  a.apply(w, s, 0, f32(1));
  t.ok(near(w[0], 0.8), `step 2: w=${w[0]}`);
  // step 3, g = 0: m = 0.171, v = 0.001997001, t = 3: m^ = 0.171/0.271 = 0.6309963,
  //   v^ = 0.001997001/0.002997001 = 0.6663331, sqrt = 0.8162923; w = 0.8 - 0.1*0.6309963/0.8162923 = 0.7226999
  a.apply(w, s, 0, f32(0));
  t.ok(near(w[0], 0.7226999, 2e-6), `step 3: w=${w[0]}`);
  // Row 1, first touch now: its own t = 1, so the full correction: w = 1 - 0.1 = 0.9 (a global
  // step of 4 would give m^ = 0.1/(1-0.9^4) = 0.2907 and v^ = 0.001/(1-0.999^4) = 0.2504: 0.942)
  a.apply(w, s, 1, f32(1));
  t.ok(near(w[1], 0.9) && s[5] === 1, `row 1: w=${w[1]} t=${s[5]}`);
  t.equal(w[0], Math.fround(w[0]), 'row 0 untouched');
});

t.test('FTRL-Proximal worked by hand: L1 keeps a coordinate at exactly 0', async (t) => {
  const f = rule({ rule: 'ftrl', alpha: 0.1, beta: 1, l1: 1, l2: 0 });
  const w = f32(0), s = new Float32Array(2); // z, n
  // g = 0.5: sigma = (sqrt(0.25) - 0)/0.1 = 5; z = 0 + 0.5 - 5*0 = 0.5; n = 0.25; |z| <= l1: w = 0
  f.apply(w, s, 0, f32(0.5));
  t.ok(w[0] === 0 && near(s[0], 0.5) && near(s[1], 0.25), `step 1: w=${w[0]} z=${s[0]} n=${s[1]}`);
  // g = 2: n = 4.25, sqrt = 2.0615528; sigma = (2.0615528 - 0.5)/0.1 = 15.615528; z = 0.5 + 2 - 0 = 2.5
  //   w = -(2.5 - 1) / ((1 + 2.0615528)/0.1 + 0) = -1.5/30.615528 = -0.0489947
  f.apply(w, s, 0, f32(2));
  t.ok(near(w[0], -0.0489947) && near(s[0], 2.5), `step 2: w=${w[0]} z=${s[0]}`);
  // g = -1: n = 5.25, sqrt = 2.2912878; sigma = (2.2912878 - 2.0615528)/0.1 = 2.29735
  //   z = 2.5 - 1 - 2.29735*(-0.0489947) = 1.6125580; w = -(1.6125580 - 1)/32.912878 = -0.0186114
  f.apply(w, s, 0, f32(-1));
  t.ok(near(s[0], 1.612558, 2e-6) && near(w[0], -0.0186114), `step 3: w=${w[0]} z=${s[0]}`);
});

t.test('FTRL slots set from weights give those weights back (new rows, checkpoint restores)', async (t) => {
  const f = rule({ rule: 'ftrl', alpha: 0.1, beta: 1, l1: 1, l2: 0 });
  const w = f32(0.3, -0.2, 0), s = new Float32Array(6);
  f.rule.initSlots(w, s, 0, 3, f.hp);
  // z = -w*(beta/alpha + l2) - sign(w)*l1: [-3 - 1, 2 + 1, 0] = [-4, 3, 0]; n = 0
  t.same(Array.from(s), [-4, 3, 0, 0, 0, 0]);
  // A zero gradient changes nothing: w = -(z - sign(z)*l1)/(beta/alpha) = [0.3, -0.2, 0]
  f.apply(w, s, 0, f32(0, 0, 0));
  t.ok(near(w[0], 0.3) && near(w[1], -0.2) && w[2] === 0, `w = ${Array.from(w)}`);
});

t.test('counter: adds exactly, ignores every scale, decays by event time with a half-life', async (t) => {
  const plain = rule('counter');
  t.equal(plain.hp.slotCount, 0, 'no slots without decay');
  const w = f32(0);
  plain.apply(w, new Float32Array(0), 0, f32(3), 0.5, 0.1);
  plain.apply(w, new Float32Array(0), 0, f32(4), 0.01, 0.3);
  t.equal(w[0], 7, '3 + 4, clip and rate scales ignored');

  const c = rule({ rule: 'counter', halfLifeMs: 1000 });
  t.same(c.rule.slotsOf(c.hp), ['lastTsHi', 'lastTsLo']);
  const x = f32(0), s = new Float32Array(2);
  const at = (ms: number, g: number) => { c.hp.nowMs = ms; c.apply(x, s, 0, f32(g)); return x[0]; };
  t.equal(at(1000, 1), 1, 't=1000: first touch, 0 + 1');
  t.ok(near(at(2000, 1), 1.5), 't=2000: one half-life later, 1*0.5 + 1 = 1.5');
  t.ok(near(at(4000, 0), 0.375), 't=4000: two half-lives, 1.5*0.25 = 0.375');
  t.ok(near(at(3000, 2), 1.375), 'a push from t=3000 arrives late: + 2*0.5 at the row time 4000');
  t.equal(s[1], 4000, 'the row time stays the newest');
  t.ok(near(at(-1, 1), 2.375), 'a push without event time adds undecayed');
  // Real times survive the f32 slots exactly (hi/lo split).
  const now = 1_764_000_000_123;
  at(now, 0);
  t.equal(s[0] * 2 ** 20 + s[1], now, 'millisecond time kept exactly');
});

t.test('hyperparameters are checked and rule names are known, errors name the option', async (t) => {
  t.throws(() => resolveRule({ rule: 'adam', beta2: 1 }, { lr: 0.1, mu: 0.9 }, 'tables.emb.optimizer'),
    new ConfigError('tables.emb.optimizer.beta2', 'must be a number in [0, 1)'));
  t.throws(() => resolveRule('sgdx' as RuleChoice, { lr: 0.1, mu: 0.9 }, 'ps.denseOptimizer'), /config option "ps\.denseOptimizer": unknown update rule "sgdx"/);
  t.throws(() => resolveRule({ rule: 'ftrl', l3: 1 } as unknown as RuleChoice, { lr: 0.1, mu: 0.9 }, 'x'), /"x\.l3": is not an update-rule option/);
  t.throws(() => resolveRule({ rule: 'momentum', beta1: 0.5 }, { lr: 0.1, mu: 0.9 }, 'x'), /"x\.beta1": is not an option of the momentum rule/);
  t.throws(() => resolveRule({ rule: 'ftrl', beta: 0 }, { lr: 0.1, mu: 0.9 }, 'x'), /"x\.beta"/);
  t.throws(() => resolveRule({ rule: 'counter', halfLifeMs: -1 }, { lr: 0.1, mu: 0.9 }, 'x'), /"x\.halfLifeMs"/);
  t.equal(resolveRule({ rule: 'ftrl' }, { lr: 0.05, mu: 0.9 }, 'x').hp.alpha, 0.05, 'FTRL alpha defaults to the table rate');
  t.same(Object.keys(UPDATE_RULES), ['momentum', 'nesterov', 'adagrad', 'adam', 'ftrl', 'counter']);
  t.same(slotNames('emb.a', resolveRule('adam', { lr: 0.1, mu: 0 }, 'x')), ['emb.a/m', 'emb.a/v', 'emb.a/t']);
});

t.test('offsets: only the addressed row moves', async (t) => {
  const w = f32(1, 1, 1, 1), v = new Float32Array(4);
  const m = resolveRule('momentum', { lr: 0.1, mu: 0.9 }, 'x');
  m.rule.apply(w, v, 2, f32(9, 1, 1), 1, 2, 1, 1, m.hp);
  t.same(Array.from(w.subarray(0, 2)), [1, 1]);
  t.ok(near(w[2], 0.9) && near(w[3], 0.9));
});

t.test('allFinite catches NaN and both infinities', async (t) => {
  t.ok(allFinite(f32(0, -1, 3e38)));
  t.notOk(allFinite(f32(0, NaN)));
  t.notOk(allFinite(f32(Infinity)));
  t.notOk(allFinite(f32(1, -Infinity)));
});
