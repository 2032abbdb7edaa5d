import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseNodeKey } from '../../admin/nodes.js';
import { planDetail } from '../../boot/files.js';
import type { BootPolicy } from '../../boot/policy.js';
import { RamdiskError, type Ramdisks } from '../../boot/ramdisk.js';
import type { EventSink } from '../../events/types.js';
import { FatError } from '../../images/fat.js';
import type { NodeRecord } from '../../inventory/nodes.js';
import { sendServedFile } from '../send-file.js';

/** The EEPROM's HTTP_PATH: `rackboot` (node by its address) or `rackboot/<dashed MAC or serial>`. */
export const HTTP_BOOT_PATH = 'rackboot';
const FILES = new Set(['boot.img', 'boot.sig']);

export interface PiHttpBootDeps {
  policy: BootPolicy;
  ramdisks: Ramdisks;
  events: EventSink;
}

/**
 * Raspberry Pi HTTP boot (bootloader mode 7): `http://HTTP_HOST:HTTP_PORT/HTTP_PATH/boot.sig`, then
 * `boot.img`. The bootloader follows no redirect, so every answer here is final (200, 206, 4xx, 5xx).
 */
export async function piHttpBootRoutes(app: FastifyInstance, deps: PiHttpBootDeps) {
  const { policy, ramdisks, events } = deps;

  const refuse = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ error: code, message });

  const serve = async (request: FastifyRequest, reply: FastifyReply, file: string, named?: string) => {
    const key = named === undefined ? undefined : parseNodeKey(named, 'node');
    const address = request.ip;
    const where = key ?? {};
    if (!FILES.has(file)) return refuse(reply, 404, 'RB_NOT_FOUND', `${file}: HTTP boot serves boot.img and boot.sig only`);
    const node: NodeRecord | undefined = key ? policy.observe(key, 'http') : policy.observeAt(address);
    if (!node) {
      const message = key
        ? `node ${named} is not known and auto-discovery refused it (see \`rackboot events\`)`
        : `no node is known at ${address} (no reservation, DHCP lease or ARP entry): set the EEPROM's HTTP_PATH=${HTTP_BOOT_PATH}/<MAC with dashes>`;
      events.record({ source: 'http', kind: 'file-missing', ...where, address, detail: { file, reason: message } });
      return refuse(reply, 404, 'RB_NOT_FOUND', message);
    }
    const nodeKey = node.mac ? { mac: node.mac } : { serial: node.serial! };
    // boot.sig is what an HTTP boot asks first: a new boot of the node, whose plan the boot.img keeps.
    const plan = policy.bootPlan(node, file === 'boot.sig' ? 'start' : 'file');
    const problem = !plan
      ? `node ${policy.explainNoPlan(node).replace(/^: /, '')}`
      : !plan.image.httpBoot
        ? `image ${plan.image.name} v${plan.image.version} is not built for HTTP boot: add it again with \`rackboot image add ... --http-boot\``
        : undefined;
    if (!plan || problem) {
      events.record({ source: 'http', kind: 'file-missing', ...nodeKey, address, detail: { file, reason: problem } });
      return refuse(reply, 404, 'RB_NOT_FOUND', problem!);
    }
    let ramdisk;
    try {
      ramdisk = await ramdisks.forPlan(plan);
    } catch (error) {
      if (!(error instanceof RamdiskError || error instanceof FatError)) throw error;
      events.record({ source: 'http', kind: 'http-boot-refused', ...nodeKey, address, detail: { file, code: error.code, reason: error.message } });
      request.log.warn({ code: error.code, node: nodeKey }, error.message);
      if (error.code === 'RB_RAMDISK_BUSY') reply.header('retry-after', '5');
      return refuse(reply, error.code === 'RB_RAMDISK_BUSY' ? 503 : 500, error.code, error.message);
    }
    const detail = { file, ...planDetail(plan), ramdisk: ramdisk.img.etag, range: request.headers.range ?? null };
    events.record({ source: 'http', kind: 'file', ...nodeKey, address, detail });
    if (file === 'boot.sig') {
      await ramdisk.img.handle.close();
      policy.bootContact(node, address);
      return reply.type('text/plain; charset=utf-8').header('etag', `"${ramdisk.img.etag}.sig"`).send(ramdisk.sig);
    }
    // The whole boot is this one file: it uses up a one-shot assignment (see BootPolicy.bootServed).
    policy.bootServed(plan, address);
    policy.bootContact(node, address);
    return sendServedFile(request, reply, ramdisk.img, 'application/octet-stream');
  };

  const summary = 'Raspberry Pi HTTP boot (EEPROM HTTP_PATH)';
  app.get<{ Params: { file: string } }>(
    `/${HTTP_BOOT_PATH}/:file`,
    { schema: { tags: ['boot'], summary: `${summary}=${HTTP_BOOT_PATH}: boot.img or boot.sig of the node at the client address` } },
    (request, reply) => serve(request, reply, request.params.file),
  );
  app.get<{ Params: { node: string; file: string } }>(
    `/${HTTP_BOOT_PATH}/:node/:file`,
    { schema: { tags: ['boot'], summary: `${summary}=${HTTP_BOOT_PATH}/<node>: boot.img or boot.sig of the node named by dashed MAC or serial` } },
    (request, reply) => serve(request, reply, request.params.file, request.params.node),
  );
}
