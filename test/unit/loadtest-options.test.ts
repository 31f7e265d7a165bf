// The loadtest's capacity mode: --capacity-fraction replaces --rate, and its flags are checked.
import t from 'tap';
import { LoadtestOptionError, parseLoadtestOptions, settingsOf } from '../../loadtest/options.ts';

t.test('--capacity-fraction takes a fraction in (0, 1] and a ramp of --saturate seconds', async (t) => {
  const o = parseLoadtestOptions({ 'capacity-fraction': '0.6' });
  t.equal(o.capacityFraction, 0.6);
  t.equal(o.saturateSec, 60, 'the ramp has a minute by default');
  t.equal(parseLoadtestOptions({ 'capacity-fraction': '1', saturate: '30' }).saturateSec, 30);
  t.equal(settingsOf(o, 'm', 4).capacityFraction, 0.6, 'the fraction is in the report');
  t.equal(parseLoadtestOptions({}).capacityFraction, undefined);
  t.equal(settingsOf(parseLoadtestOptions({}), 'm', 4).capacityFraction, null);
});

t.test('bad or conflicting capacity flags fail naming the flag', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ 'capacity-fraction': '0' }, /--capacity-fraction must be a fraction in \(0, 1\]/],
    [{ 'capacity-fraction': '1.5' }, /--capacity-fraction must be a fraction/],
    [{ 'capacity-fraction': '0.6', rate: '2000' }, /--capacity-fraction sets the rate from the measured capacity/],
    [{ 'capacity-fraction': '0.6', speedup: '10' }, /--capacity-fraction sets the rate/],
    [{ saturate: '30' }, /--saturate is the capacity phase of --capacity-fraction/],
    [{ 'capacity-fraction': '0.6', saturate: '3' }, /--saturate must be seconds in \[8, 600\]/],
  ];
  for (const [args, msg] of bad) t.throws(() => parseLoadtestOptions(args), msg, JSON.stringify(args));
  t.throws(() => parseLoadtestOptions({ 'capacity-fraction': 'x' }), LoadtestOptionError);
});
