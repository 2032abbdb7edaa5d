/**
 * The floors under rackboot's HTTP side, for bench/http: one route answering a fixed body and
 * nothing else (no lookup, no template, no event), on fastify or on bare node:http. What they
 * serve per second is the most /chain could reach on that stack, this runtime and this machine.
 * Usage: node dist/bench/http/floor.js <body file> fastify|node   (prints "ready <port>")
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Fastify from 'fastify';

const body = readFileSync(process.argv[2]!, 'utf8');
const TYPE = 'text/plain; charset=utf-8';
const KEEP_ALIVE_MS = 30_000;

async function listenFastify(): Promise<number> {
  const app = Fastify({ keepAliveTimeout: KEEP_ALIVE_MS });
  app.get('/chain', async (_, reply) => reply.type(TYPE).send(body));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

function listenNode(): Promise<number> {
  const length = Buffer.byteLength(body);
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, (_, response) => {
    response.writeHead(200, { 'content-type': TYPE, 'content-length': length });
    response.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

const stack = process.argv[3];
if (stack !== 'fastify' && stack !== 'node') throw new Error(`usage: floor.js <body file> fastify|node (got "${stack}")`);
console.log(`ready ${stack === 'fastify' ? await listenFastify() : await listenNode()}`);
