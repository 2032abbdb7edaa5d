import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminContext } from '../../admin/context.js';
import { AdminError } from '../../admin/errors.js';
import { registerImage, removeImage, imageWarnings, type ImageInput } from '../../admin/images.js';
import { assignImage, findNode, rollbackNode, saveNode, type AssignInput } from '../../admin/nodes.js';
import { eepromRoutes } from './eeprom.js';
import type { BootPolicy } from '../../boot/policy.js';
import type { NodeSettings } from '../../inventory/nodes.js';

const nodeSettings = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // Checked, with the CLI's, by the overlay that carries it to the node: one rule, one message.
    hostname: { type: ['string', 'null'], description: 'a DNS name: dot-separated labels of letters, digits and -' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    sshKeys: { type: 'array', items: { type: 'string', minLength: 1 } },
    reservedIp: { type: ['string', 'null'], format: 'ipv4' },
  },
} as const;

const imageBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kernel'],
  properties: {
    name: { type: 'string', minLength: 1 },
    arch: { type: 'string', enum: ['arm64', 'arm32', 'x86_64', 'i386', 'riscv64', 'any'] },
    kernel: { type: 'string', minLength: 1, description: 'path on the server or http(s) URL' },
    kernelSha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
    initrd: { type: 'string', minLength: 1, description: 'path on the server or http(s) URL' },
    initrdSha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
    dtbs: { type: 'array', items: { type: 'string', minLength: 1 } },
    firmware: { type: 'string', minLength: 1, description: 'directory on the server: a Pi firmware set (start4.elf, fixup4.dat, overlays/...)' },
    cmdline: { type: 'string' },
    configTxt: { type: 'string' },
    notes: { type: 'string' },
    httpBoot: { type: 'boolean', description: 'build boot.img + boot.sig for Raspberry Pi HTTP boot (refused over the 128 MiB ramdisk limit)' },
  },
} as const;

const assignBody = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    image: { type: ['string', 'null'] },
    version: { type: 'integer', minimum: 1 },
    once: { type: 'boolean' },
  },
} as const;

/** What may keep a node from booting what it was just assigned (AssignWarning), documented for /docs. */
const assignReply = {
  description: 'the node as GET /nodes/{node} shows it, plus the warnings of this assignment',
  type: 'object',
  additionalProperties: true,
  properties: {
    warnings: {
      type: 'array',
      description: 'what may keep the node from booting this image, each with a stable code, what is wrong and what to do',
      items: {
        type: 'object',
        required: ['code', 'message', 'fix'],
        properties: {
          code: { type: 'string', enum: ['RB_ASSIGN_NO_BUILD_FOR_ARCH', 'RB_PI_TFTP_BLOCK_ROLLOVER', 'RB_PI_TFTP_FILE_TIMEOUT'] },
          file: { type: 'string' },
          message: { type: 'string' },
          fix: { type: 'string' },
        },
      },
    },
  },
} as const;

const BEARER = /^Bearer +(\S+)$/i;

function tokenMatches(given: string, token: string): boolean {
  const offered = Buffer.from(given);
  const wanted = Buffer.from(token);
  return offered.length === wanted.length && timingSafeEqual(offered, wanted);
}

/** Admin API: reads are open, writes need `Authorization: Bearer <http.adminToken>`. */
export async function apiRoutes(app: FastifyInstance, deps: { admin: AdminContext; policy: BootPolicy }) {
  const { admin, policy } = deps;
  const token = admin.config.http.adminToken;

  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    if (!token) throw new AdminError('RB_NO_TOKEN', 403, 'writes are disabled: set http.adminToken in the config');
    const header = request.headers.authorization;
    if (!header) throw new AdminError('RB_AUTH', 401, 'missing Authorization: Bearer <adminToken>');
    // A bare token is refused: proxies and logs treat only a scheme-tagged credential as one to hide.
    const given = BEARER.exec(header)?.[1];
    if (!given) throw new AdminError('RB_AUTH', 401, 'Authorization must use the Bearer scheme: Authorization: Bearer <adminToken>');
    if (!tokenMatches(given, token)) throw new AdminError('RB_AUTH', 401, 'wrong admin token');
  });

  const by = (request: FastifyRequest) => `api:${request.ip}`;
  const nodeView = (text: string) => {
    const node = findNode(admin, text);
    const plan = policy.plan(node);
    return {
      ...node,
      assignment: admin.inventory.assignments.current(node.id) ?? null,
      boots: plan ? { image: plan.image.name, version: plan.image.version, reason: plan.reason } : null,
    };
  };

  await eepromRoutes(app, { admin, by });

  app.get('/images', { schema: { tags: ['images'] } }, async () =>
    admin.inventory.images.list().map((image) => ({ ...image, warnings: imageWarnings(image) })),
  );
  app.post<{ Body: ImageInput }>('/images', { schema: { tags: ['images'], body: imageBody } }, async (request, reply) => {
    const clientGone = new AbortController();
    // 'close' before the reply is written: the client went away, and its downloads go with it.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) clientGone.abort(new Error('the API client disconnected'));
    });
    const result = await registerImage(admin, request.body, by(request), { clientGone: clientGone.signal });
    return reply.code(result.created ? 201 : 200).send(result);
  });
  app.get<{ Params: { name: string } }>('/images/:name', { schema: { tags: ['images'] } }, async (request) => {
    const versions = admin.inventory.images.versions(request.params.name);
    if (!versions.length) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `no image ${request.params.name}`);
    return versions.map((image) => ({ ...image, warnings: imageWarnings(image) }));
  });
  app.delete<{ Params: { name: string }; Querystring: { version?: number } }>(
    '/images/:name',
    { schema: { tags: ['images'], querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } } } },
    async (request) => ({ removed: removeImage(admin, request.params.name, request.query.version) }),
  );

  app.get('/nodes', { schema: { tags: ['nodes'] } }, async () =>
    admin.inventory.nodes.list().map((node) => nodeView(node.mac ?? node.serial!)),
  );
  app.get<{ Params: { node: string } }>('/nodes/:node', { schema: { tags: ['nodes'] } }, async (request) =>
    nodeView(request.params.node),
  );
  app.put<{ Params: { node: string }; Body: NodeSettings }>(
    '/nodes/:node',
    { schema: { tags: ['nodes'], body: nodeSettings } },
    async (request) => {
      saveNode(admin, request.params.node, request.body);
      return nodeView(request.params.node);
    },
  );
  app.delete<{ Params: { node: string } }>('/nodes/:node', { schema: { tags: ['nodes'] } }, async (request) => ({
    removed: admin.inventory.nodes.remove(findNode(admin, request.params.node).id),
  }));
  app.put<{ Params: { node: string }; Body: AssignInput }>(
    '/nodes/:node/assignment',
    { schema: { tags: ['nodes'], body: assignBody, response: { 200: assignReply } } },
    async (request) => {
      const { warnings } = assignImage(admin, request.params.node, request.body, by(request));
      return { ...nodeView(request.params.node), warnings };
    },
  );
  app.post<{ Params: { node: string } }>('/nodes/:node/rollback', { schema: { tags: ['nodes'] } }, async (request) => {
    const { restored } = rollbackNode(admin, request.params.node, by(request));
    return { ...nodeView(request.params.node), restored };
  });
  app.get<{ Params: { node: string } }>('/nodes/:node/assignments', { schema: { tags: ['nodes'] } }, async (request) =>
    admin.inventory.assignments.history(findNode(admin, request.params.node).id),
  );
  app.get<{ Params: { node: string }; Querystring: { limit?: number } }>(
    '/nodes/:node/events',
    { schema: { tags: ['nodes'], querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000 } } } } },
    async (request) => admin.inventory.events.forNode(findNode(admin, request.params.node).id, request.query.limit ?? 200),
  );
}
