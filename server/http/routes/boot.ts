import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { planDetail, type BootFiles } from '../../boot/files.js';
import { echoable, IPXE_ARCHES, ipxeArch, refusalScript, type IpxeScripts } from '../../boot/ipxe.js';
import type { BootPolicy } from '../../boot/policy.js';
import type { EventSink } from '../../events/types.js';
import { parseMac } from '../../net/mac.js';
import { parseNodeKey } from '../../admin/nodes.js';
import { sendServedFile } from '../send-file.js';

export interface BootRouteDeps {
  policy: BootPolicy;
  files: BootFiles;
  scripts: IpxeScripts;
  events: EventSink;
}

const IPXE_TYPE = 'text/plain; charset=utf-8';
const BINARY = 'application/octet-stream';

const chainQuery = {
  type: 'object',
  required: ['mac'],
  properties: {
    mac: { type: 'string', description: 'MAC with colons or dashes; percent-encoded colons are accepted' },
    uefi: { type: 'string', description: 'empty, true or false (iPXE ${uefi})' },
    arch: { type: 'string', description: 'iPXE ${buildarch}: i386, x86_64, arm64' },
  },
} as const;

/** The endpoints nodes use while booting: no authentication, every request is a boot event. */
export async function bootRoutes(app: FastifyInstance, deps: BootRouteDeps) {
  const { policy, files, scripts, events } = deps;

  app.get('/boot.ipxe', { schema: { tags: ['boot'], summary: 'First-stage iPXE script DHCP hands to iPXE' } }, async (_, reply) =>
    reply.type(IPXE_TYPE).send(scripts.firstStage()),
  );

  app.get<{ Querystring: { mac: string; uefi?: string; arch?: string } }>(
    '/chain',
    { schema: { tags: ['boot'], summary: 'iPXE script for the node (option 224 points here)', querystring: chainQuery } },
    async (request, reply) => {
      const mac = parseMac(request.query.mac);
      if (!mac) {
        const refusal = refusalScript(`mac "${echoable(request.query.mac)}" is not a MAC address; check DHCP option 224`);
        return reply.code(400).type(IPXE_TYPE).send(refusal);
      }
      const arch = request.query.arch ? ipxeArch(request.query.arch) : undefined;
      if (request.query.arch && !arch) {
        const refusal = refusalScript(`arch "${echoable(request.query.arch)}" is not one we boot (${[...IPXE_ARCHES].join(', ')})`);
        return reply.code(404).type(IPXE_TYPE).send(refusal);
      }
      const uefi = request.query.uefi === 'true' ? true : request.query.uefi === 'false' ? false : undefined;
      const { script, plan } = scripts.chain({ mac, uefi, arch, address: request.ip });
      events.record({
        source: 'http',
        kind: plan ? 'chain' : 'chain-wait',
        mac,
        address: request.ip,
        detail: plan ? { ...planDetail(plan), uefi } : { uefi },
      });
      return reply.type(IPXE_TYPE).send(script);
    },
  );

  const bootFile = async (
    request: FastifyRequest<{ Params: { node: string; file: string; image?: string } }>,
    reply: FastifyReply,
  ) => {
    const key = parseNodeKey(request.params.node, 'node');
    const node = policy.observe(key, 'http');
    const imageId = request.params.image === undefined ? undefined : Number(request.params.image);
    const plan = node && (imageId === undefined ? policy.bootPlan(node, 'file') : policy.planWithImage(node, imageId, 'file'));
    const file = plan && (await files.forPlan(plan, request.params.file, request.ip));
    if (!file) {
      events.record({ source: 'http', kind: 'file-missing', ...key, address: request.ip, detail: { file: request.params.file } });
      return reply.code(404).send({ error: 'RB_NOT_FOUND', message: `${request.params.file} is not part of this node's boot` });
    }
    events.record({
      source: 'http',
      kind: 'file',
      ...key,
      address: request.ip,
      detail: { file: request.params.file, ...planDetail(plan, request.params.file), range: request.headers.range ?? null },
    });
    return sendServedFile(request, reply, file, request.params.file.endsWith('.txt') ? IPXE_TYPE : BINARY);
  };
  const fileSummary = "A file of the node's boot (vmlinuz, initrd.img, config.txt, ...), with Range";
  app.get('/boot/:node/:file', { schema: { tags: ['boot'], summary: `${fileSummary}; from the image the node boots now` } }, bootFile);
  // Chain scripts name the image, so every file of one boot comes from the image the script was made for.
  app.get(
    '/boot/:node/images/:image/:file',
    { schema: { tags: ['boot'], summary: `${fileSummary}; from the given image id`, params: { type: 'object', properties: { image: { type: 'string', pattern: '^[0-9]+$' } } } } },
    bootFile,
  );

  app.get<{ Params: { '*': string } }>(
    '/ipxe/*',
    { schema: { tags: ['boot'], summary: 'Shared iPXE binaries (UEFI HTTP boot)' } },
    async (request, reply) => sendServedFile(request, reply, await files.shared(request.params['*'], ['ipxe']), BINARY),
  );

  app.get<{ Querystring: { mac?: string; serial?: string } }>(
    '/booted',
    { schema: { tags: ['boot'], summary: "A node's init reports that it is up" } },
    async (request, reply) => {
      const key = parseNodeKey(request.query.mac ?? request.query.serial ?? '', 'mac');
      const node = policy.observe(key, 'node');
      if (node) policy.booted(node);
      events.record({ source: 'node', kind: 'booted', ...key, address: request.ip });
      return reply.send({ ok: true });
    },
  );
}
