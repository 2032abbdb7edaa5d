/**
 * URL import: `fetchToStore(store, url, options)` downloads an http(s) URL with undici straight
 * into the blob store (temp file, sha256 while streaming, fsync, rename), so a refused, dropped or
 * killed download leaves nothing behind but a temp file that `BlobStore.init` removes.
 *
 * Exports `fetchToStore`, `FetchOptions`, `FetchError` (stable codes RB_FETCH_*). A wrong digest
 * or an oversized body is a `BlobError` (RB_BLOB_DIGEST_MISMATCH / RB_BLOB_TOO_LARGE).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import type { buildConnector as BuildConnector } from 'undici';
import { BlobError, type BlobRef, type BlobStore } from './blob-store.js';
import type { AddressGuard } from './url-guard.js';

export interface FetchOptions {
  expectedSha256?: string;
  /** Refused while streaming (nothing stored) once exceeded; refused at once when Content-Length says so. */
  maxBytes: number;
  /** Inactivity limit: connecting, waiting for headers, or any gap between body chunks. */
  timeoutMs: number;
  /** Called for every received chunk; `total` is the Content-Length when the server sent one. */
  onProgress?: (received: number, total?: number) => void;
  /** Aborts the download (Ctrl-C, an overall deadline via AbortSignal.timeout). */
  signal?: AbortSignal;
  /** Redirects followed (release downloads usually redirect once). Default 5. */
  maxRedirections?: number;
  /**
   * Checked against every address a connection would go to (each redirect hop, every address a
   * name resolves to), before connecting; a refusal fails the download with RB_FETCH_FORBIDDEN.
   */
  refuseAddress?: AddressGuard;
}

export type FetchErrorCode =
  | 'RB_FETCH_URL'
  | 'RB_FETCH_HTTP'
  | 'RB_FETCH_CONNECT'
  | 'RB_FETCH_TLS'
  | 'RB_FETCH_TIMEOUT'
  | 'RB_FETCH_DROPPED'
  | 'RB_FETCH_ABORTED'
  | 'RB_FETCH_FORBIDDEN';

export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FetchError';
  }
}

export async function fetchToStore(store: BlobStore, url: string, options: FetchOptions): Promise<BlobRef> {
  const target = parseHttpUrl(url);
  // Loaded on first use: undici is a sixth of the daemon's start-up and only image imports need it.
  const { Agent, buildConnector, interceptors, request } = await import('undici');
  const agent = new Agent({ connect: connector(buildConnector, options) });
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: options.maxRedirections ?? 5 }));
  try {
    const response = await request(target, {
      dispatcher,
      method: 'GET',
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      signal: options.signal,
    }).catch((error: unknown) => {
      throw describeFailure(error, url, options.signal);
    });
    if (response.statusCode < 200 || response.statusCode > 299) {
      discard(response.body);
      throw new FetchError('RB_FETCH_HTTP', `${url} answered HTTP ${response.statusCode}; nothing stored`);
    }
    const total = contentLength(response.headers['content-length']);
    if (total !== undefined && total > options.maxBytes) {
      discard(response.body);
      throw new BlobError('RB_BLOB_TOO_LARGE', `${url} is ${total} bytes, over the limit of ${options.maxBytes}; nothing stored`);
    }
    const counted = Readable.from(countBody(response.body, url, total, options.onProgress));
    return await store.putStream(counted, { expectedSha256: options.expectedSha256, maxBytes: options.maxBytes }).catch((error: unknown) => {
      discard(response.body);
      throw error instanceof BlobError || error instanceof FetchError ? error : describeFailure(error, url, options.signal);
    });
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

/**
 * Names are checked in the lookup (the addresses the socket then really uses, so a name that
 * resolves differently later cannot slip through); IP literals never reach a lookup, so the
 * connector checks them itself.
 */
function connector(build: typeof BuildConnector, options: FetchOptions): BuildConnector.BuildOptions | BuildConnector.connector {
  const guard = options.refuseAddress;
  if (!guard) return { timeout: options.timeoutMs };
  const connect = build({ timeout: options.timeoutMs, lookup: guardedLookup(guard) });
  return (target, callback) => {
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    const reason = isIP(host) ? guard(host) : undefined;
    if (reason) callback(new FetchError('RB_FETCH_FORBIDDEN', `refused to connect to ${target.hostname}: ${reason}`), null);
    else connect(target, callback);
  };
}

function guardedLookup(guard: AddressGuard): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses: LookupAddress[]) => {
      const reason = error ? undefined : addresses.map((entry) => guard(entry.address)).find(Boolean);
      const failure = error ?? (reason ? new FetchError('RB_FETCH_FORBIDDEN', `refused to connect to ${hostname}: ${reason}`) : null);
      const reply = callback as (error: Error | null, address: string | LookupAddress[], family?: number) => void;
      if (failure) reply(failure, []);
      else if (lookupOptions.all) reply(null, addresses);
      else reply(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** Closes the connection without reading the rest (undici reports that as an error nobody needs). */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

function parseHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FetchError('RB_FETCH_URL', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FetchError('RB_FETCH_URL', `only http and https URLs can be imported, not ${parsed.protocol} (${url})`);
  }
  return parsed;
}

function contentLength(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string' || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

async function* countBody(
  body: AsyncIterable<Buffer>,
  url: string,
  total: number | undefined,
  onProgress: FetchOptions['onProgress'],
): AsyncGenerator<Buffer> {
  let received = 0;
  for await (const chunk of body) {
    received += chunk.length;
    onProgress?.(received, total);
    yield chunk;
  }
  // undici already fails on a short body with Content-Length; this also covers odd framings.
  if (total !== undefined && received !== total) {
    throw new FetchError('RB_FETCH_DROPPED', `${url}: connection ended after ${received} of ${total} bytes; nothing stored`);
  }
}

function describeFailure(error: unknown, url: string, signal: AbortSignal | undefined): FetchError {
  const code = (error as { code?: string }).code ?? '';
  const detail = (error as Error).message ?? String(error);
  const refusal = [error, (error as { cause?: unknown }).cause].find((candidate) => candidate instanceof FetchError);
  if (refusal) return new FetchError(refusal.code, `${url}: ${refusal.message}; nothing stored`, { cause: error });
  if (signal?.aborted) {
    const reason = signal.reason instanceof Error && signal.reason.name !== 'AbortError' ? ` (${signal.reason.message})` : '';
    return new FetchError('RB_FETCH_ABORTED', `${url}: download aborted${reason}; nothing stored`, { cause: error });
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new FetchError('RB_FETCH_TIMEOUT', `${url}: no data within the timeout (${detail}); nothing stored`, { cause: error });
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') {
    return new FetchError('RB_FETCH_CONNECT', `${url}: cannot connect (${code}); nothing stored`, { cause: error });
  }
  if (/CERT|^ERR_TLS|^ERR_SSL/.test(code)) {
    return new FetchError(
      'RB_FETCH_TLS',
      `${url}: TLS verification failed (${detail}); trust the server's CA with NODE_EXTRA_CA_CERTS=<pem file>; nothing stored`,
      { cause: error },
    );
  }
  return new FetchError('RB_FETCH_DROPPED', `${url}: download failed (${detail}); nothing stored`, { cause: error });
}
