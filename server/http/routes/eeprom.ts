import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminContext } from '../../admin/context.js';
import {
  addEepromImage,
  eepromDrift,
  eepromNodeView,
  getEepromRule,
  removeEepromImage,
  removeEepromRule,
  setEepromRule,
  type EepromRuleInput,
  type EepromTarget,
} from '../../admin/eeprom.js';
import { AdminError } from '../../admin/errors.js';

const ruleBody = {
  type: 'object',
  additionalProperties: false,
  required: ['settings'],
  properties: {
    image: { type: ['string', 'null'], description: 'a bootloader image name (eeprom image add); null or absent: the label rules decide' },
    settings: { type: 'object', additionalProperties: { type: 'string' }, description: 'bootloader settings, e.g. {"BOOT_ORDER": "0xf21"}' },
  },
} as const;

const imageBody = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', minLength: 1, description: 'pieeprom-*.bin on the server, under images.importRoots' },
    name: { type: 'string', minLength: 1 },
  },
} as const;

/** The bootloader EEPROM fleet under /api/v1/eeprom; registered inside apiRoutes, so writes need the admin token. */
export async function eepromRoutes(app: FastifyInstance, deps: { admin: AdminContext; by: (request: FastifyRequest) => string }) {
  const { admin, by } = deps;
  const tags = ['eeprom'];
  const labelTarget = (label: string): EepromTarget => {
    if (!/^[^=\s]+=\S*$/.test(label)) throw new AdminError('RB_BAD_TARGET', 400, `label: "${label}" must be key=value`);
    return { label };
  };
  const ruleOf = (target: EepromTarget) => {
    const rule = getEepromRule(admin, target);
    if (!rule) throw new AdminError('RB_NOT_FOUND', 404, `no eeprom settings for ${'label' in target ? `label ${target.label}` : target.node}`);
    return rule;
  };

  app.get('/eeprom/images', { schema: { tags } }, async () => admin.inventory.eeprom.images());
  app.post<{ Body: { path: string; name?: string } }>('/eeprom/images', { schema: { tags, body: imageBody } }, async (request, reply) => {
    const { path, name } = request.body;
    const image = await addEepromImage(admin, path, { ...(name && { name }), roots: admin.config.images.importRoots, by: by(request) });
    return reply.code(201).send(image);
  });
  app.delete<{ Params: { name: string } }>('/eeprom/images/:name', { schema: { tags } }, async (request) => {
    removeEepromImage(admin, request.params.name);
    return { removed: request.params.name };
  });

  app.get<{ Params: { node: string } }>('/eeprom/nodes/:node', { schema: { tags } }, async (request) => eepromNodeView(admin, request.params.node));
  app.put<{ Params: { node: string }; Body: EepromRuleInput }>('/eeprom/nodes/:node', { schema: { tags, body: ruleBody } }, async (request) => {
    setEepromRule(admin, { node: request.params.node }, request.body, by(request));
    return eepromNodeView(admin, request.params.node);
  });
  app.delete<{ Params: { node: string } }>('/eeprom/nodes/:node', { schema: { tags } }, async (request) => {
    removeEepromRule(admin, { node: request.params.node });
    return eepromNodeView(admin, request.params.node);
  });

  app.get<{ Params: { label: string } }>('/eeprom/labels/:label', { schema: { tags } }, async (request) => ruleOf(labelTarget(request.params.label)));
  app.put<{ Params: { label: string }; Body: EepromRuleInput }>('/eeprom/labels/:label', { schema: { tags, body: ruleBody } }, async (request) =>
    setEepromRule(admin, labelTarget(request.params.label), request.body, by(request)),
  );
  app.delete<{ Params: { label: string } }>('/eeprom/labels/:label', { schema: { tags } }, async (request) => {
    removeEepromRule(admin, labelTarget(request.params.label));
    return { removed: request.params.label };
  });

  app.get('/eeprom/drift', { schema: { tags } }, async () => eepromDrift(admin));
}
