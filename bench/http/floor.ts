/**
 * The floor under rackboot's HTTP side, for bench/http: fastify with one route answering a fixed
 * body, nothing else (no lookup, no template, no event). What it serves per second is the most
 * /chain could reach on this runtime and machine.
 * Usage: node dist/bench/http/floor.js <body file>   (prints "ready <port>")
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const body = readFileSync(process.argv[2]!, 'utf8');
const app = Fastify({ keepAliveTimeout: 30_000 });
app.get('/chain', async (_, reply) => reply.type('text/plain; charset=utf-8').send(body));
await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`ready ${(app.server.address() as { port: number }).port}`);
