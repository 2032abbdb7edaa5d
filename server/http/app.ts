import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyError } from 'fastify';
import type { Logger } from 'pino';
import { apiRoutes } from './routes/api.js';
import { bootRoutes, type BootRouteDeps } from './routes/boot.js';
import { liveRoutes } from './routes/live.js';
import { registerMetrics, type EngineCounters } from './routes/metrics.js';
import { pageRoutes } from './routes/page.js';
import { piHttpBootRoutes } from './routes/pi-http-boot.js';
import { watchRefusedConnections } from './refused.js';
import { validationMessage, validatorCompiler } from './validation.js';
import { closeStalledConnections } from './stalled.js';
import type { AdminContext } from '../admin/context.js';
import type { Ramdisks } from '../boot/ramdisk.js';
import { AdminError } from '../admin/errors.js';
import type { EventRecorder } from '../events/recorder.js';
import { refusalOf } from '../files/refusals.js';

export interface HttpDeps extends BootRouteDeps {
  admin: AdminContext;
  log: Logger;
  /** Boot events: recorded by the boot routes, followed live by the page, /live and the boot metrics. */
  events: EventRecorder;
  engines: EngineCounters;
  ramdisks: Ramdisks;
}

/** The fastify app: boot endpoints, admin API under /api/v1, OpenAPI at /docs, /healthz. */
export async function buildHttpApp(deps: HttpDeps) {
  const limits = deps.admin.config.http;
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }),
    // Boot requests are recorded as events; a per-request log line would drown a rack's boot storm.
    logController: new LogController({ disableRequestLogging: true }),
    // With request logging off, only the error handler logs, and it names the URL. A pino child per
    // request (fastify's default, to bind a request id) took 2% of a chain request's CPU.
    childLoggerFactory: (logger) => logger,
    // iPXE sends several requests per connection; keep idle connections a while, not forever.
    keepAliveTimeout: limits.idleTimeoutMs,
    // A socket silent both ways (a stalled reader, an upload that stopped) is closed: it would
    // hold one of the maxConnections slots. Busy downloads keep resetting it (see stalled.ts).
    connectionTimeout: limits.idleTimeoutMs,
    // Fastify's default 0 lets a client trickle a body (even after its 401) for ever.
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.requestTimeoutMs,
      // Node looks for expired requests every 30 s by default, so a short timeout would lag by up to that.
      connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs),
    },
    // Admin bodies are small JSON (images come by path or URL, never in the body).
    bodyLimit: 64 * 1024,
    forceCloseConnections: 'idle',
  });
  app.setValidatorCompiler(validatorCompiler);

  app.server.maxConnections = limits.maxConnections;
  watchRefusedConnections(app.server, limits.maxConnections, app.log);
  closeStalledConnections(app.server);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AdminError) return reply.code(error.status).send({ error: error.code, message: error.message });
    if (error.validation) {
      return reply.code(400).send({ error: 'RB_VALIDATION', message: validationMessage(error) });
    }
    const refusal = refusalOf(error);
    if (refusal) return reply.code(refusal.http).send({ error: refusal.code, message: error.message });
    if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send({ error: error.code, message: error.message });
    request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(500).send({ error: 'RB_INTERNAL', message: 'internal error; the daemon log has the details' });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'rackboot', version: '1', description: 'Boot endpoints and admin API' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerMetrics(app, { inventory: deps.admin.inventory, recorder: deps.events, engines: deps.engines });
  app.get('/healthz', { schema: { tags: ['ops'] } }, async () => ({ status: 'ok' }));
  await app.register(bootRoutes, deps);
  await app.register(piHttpBootRoutes, { policy: deps.policy, ramdisks: deps.ramdisks, events: deps.events });
  await app.register(apiRoutes, { prefix: '/api/v1', admin: deps.admin, policy: deps.policy });
  await app.register(liveRoutes, { admin: deps.admin, recorder: deps.events, maxStreams: limits.maxLiveStreams, idleTimeoutMs: limits.idleTimeoutMs });
  await app.register(pageRoutes, { admin: deps.admin, policy: deps.policy, recorder: deps.events, engines: deps.engines });
  return app;
}
