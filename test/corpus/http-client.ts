// Sends an HTTP corpus case to a server and reads the rejection counter from /metrics.
import { request } from 'node:http';
import type { HttpInput } from './values.ts';

interface Reply { status: number; body: string }

export function send(port: number, i: HttpInput, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...i.headers };
    if (i.contentType) headers['content-type'] = i.contentType;
    if (i.chunked) headers['transfer-encoding'] = 'chunked';
    else if (body.length || i.method !== 'GET') headers['content-length'] = body.length;
    const req = request({ host: '127.0.0.1', port, method: i.method ?? 'POST', path: i.path ?? '/v1/events', headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    if (i.chunked) {
      // Several chunks, so the limit is crossed while reading, not announced up front.
      for (let off = 0; off < body.length; off += 16384) req.write(body.subarray(off, off + 16384));
      req.end();
    } else req.end(body);
  });
}

/** Sum of fw_ingest_requests_rejected_total by reason, read from /metrics. */
export async function rejectedByReason(port: number): Promise<Map<string, number>> {
  const r = await send(port, { method: 'GET', path: '/metrics' }, Buffer.alloc(0));
  const out = new Map<string, number>();
  for (const m of r.body.matchAll(/^fw_ingest_requests_rejected_total\{([^}]*)\} (\S+)$/gm)) {
    const reason = /reason="([^"]*)"/.exec(m[1])?.[1] ?? '';
    out.set(reason, (out.get(reason) ?? 0) + Number(m[2]));
  }
  return out;
}

