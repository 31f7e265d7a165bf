// The NATS transport and the JetStream event log against the real servers.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Deferred, JetStreamEventLog, NatsTransport, connectNats, waitFor } from '../../shared/index.ts';
import { uniqueModel } from '../helpers/integration.ts';

t.test('a message above max_payload is split and rebuilt, never truncated', async (t) => {
  const nc = await connectNats('nats://127.0.0.1:4222', 'test-chunks');
  const tr = new NatsTransport(nc);
  t.teardown(() => tr.close());
  const subject = `fw.${uniqueModel('chunks')}.weights.0`;
  const big = new Uint8Array(randomBytes(tr.maxPayloadBytes * 3 + 12345));
  const got = new Deferred<Uint8Array>();
  tr.subscribe(subject, (m) => got.resolve(m.data));
  await tr.flush();
  tr.publish(subject, big);
  const back = await got.promise;
  t.equal(back.length, big.length);
  t.ok(Buffer.compare(Buffer.from(back), Buffer.from(big)) === 0, 'bytes identical');
  // A request larger than max_payload gets its reply too.
  tr.subscribe(`${subject}.req`, (m) => m.respond?.(new Uint8Array([m.data.length % 256])));
  await tr.flush();
  const reply = await tr.request(`${subject}.req`, big, 5000);
  t.equal(reply[0], big.length % 256);
});

t.test('JetStream: an unacked message comes back after a nak; an acked one does not', async (t) => {
  const nc = await connectNats('nats://127.0.0.1:4222', 'test-js');
  const model = uniqueModel('js');
  const log = new JetStreamEventLog(nc, { model, eventShards: 1, ackWaitMs: 30_000 });
  t.teardown(async () => { await log.destroy(); await nc.close(); });
  await log.ensure();
  await log.publish(0, new Uint8Array([1]));
  await log.publish(0, new Uint8Array([2]));
  const deliveries: string[] = [];
  const consumer = await log.consume(0, (m) => {
    deliveries.push(`${m.data[0]}${m.redelivered ? 'r' : ''}`);
    if (m.data[0] === 1 && !m.redelivered) m.nak(0);
    else m.ack();
  }, 10);
  await waitFor(() => deliveries.length >= 3, 10_000, 'three deliveries');
  await consumer.stop();
  t.same(deliveries.sort(), ['1', '1r', '2']);
  await waitFor(async () => { const b = await log.backlog(0); return b.pending + b.ackPending === 0; }, 10_000, 'backlog empty');
  t.pass('nothing left unacked');
});
