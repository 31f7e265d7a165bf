// Checks a running server's /openapi.json against what it answers: the document's structure
// (OpenAPI 3.1: paths, methods, responses with schemas, resolvable refs), that every route
// the caller knows it answers is described (not as undocumented), and that every operation of
// the document is answered by something other than 404/405.
type Doc = { openapi?: string; info?: { title?: string; version?: string }; paths?: Record<string, Record<string, Op>>; components?: Record<string, Record<string, unknown>> };
type Op = { operationId?: string; summary?: string; responses?: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>; requestBody?: unknown; 'x-undocumented'?: boolean };

const METHODS = new Set(['get', 'post', 'put', 'delete', 'patch']);

function refs(x: unknown, out: string[] = []): string[] {
  if (Array.isArray(x)) for (const v of x) refs(v, out);
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) { if (k === '$ref' && typeof v === 'string') out.push(v); else refs(v, out); }
  return out;
}

function resolve(doc: Doc, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), doc);
}

/** The problems found (empty: none), so a test can list them all at once. */
export async function checkOpenApi(baseUrl: string, answers: readonly string[]): Promise<{ problems: string[]; operations: string[] }> {
  const problems: string[] = [];
  const res = await fetch(`${baseUrl}/openapi.json`);
  if (res.status !== 200) return { problems: [`/openapi.json answered ${res.status}`], operations: [] };
  const doc = await res.json() as Doc;
  if (doc.openapi !== '3.1.0') problems.push(`openapi is ${doc.openapi}, not 3.1.0`);
  if (!doc.info?.title || !doc.info.version) problems.push('info needs a title and a version');
  const operations: string[] = [];
  const ids = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (!path.startsWith('/')) problems.push(`path ${path} does not start with /`);
    for (const [method, op] of Object.entries(item)) {
      const key = `${method.toUpperCase()} ${path}`;
      if (!METHODS.has(method)) { problems.push(`${key}: not an HTTP method`); continue; }
      operations.push(key);
      if (!op.summary) problems.push(`${key}: no summary`);
      if (!op.operationId || ids.has(op.operationId)) problems.push(`${key}: operationId missing or repeated`);
      ids.add(op.operationId ?? '');
      if (op['x-undocumented']) problems.push(`${key}: undocumented`);
      const ok = op.responses?.['200']?.content;
      const schema = ok && Object.values(ok)[0]?.schema;
      if (!schema || Object.keys(schema as object).length === 0) problems.push(`${key}: no schema for 200`);
      if (!op.responses?.['4XX']) problems.push(`${key}: no 4XX (error) response`);
      if (method === 'post' && !op.requestBody) problems.push(`${key}: no request body`);
    }
  }
  for (const r of refs(doc)) if (resolve(doc, r) === undefined) problems.push(`unresolved $ref ${r}`);
  const error = resolve(doc, '#/components/schemas/Error') as { required?: string[] } | undefined;
  if (!error?.required?.includes('error') || !error.required.includes('code')) problems.push('the Error schema must require error and code');
  for (const a of answers) if (!operations.includes(a)) problems.push(`${a} is answered but not in the document`);
  // Probes carry an empty JSON object: a described route may refuse it (400), not be absent.
  for (const key of operations) {
    const [method, path] = key.split(' ');
    const r = await fetch(`${baseUrl}${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
    await r.arrayBuffer();
    if (r.status === 404 || r.status === 405) problems.push(`${key} is in the document but answered ${r.status}`);
  }
  return { problems, operations };
}
