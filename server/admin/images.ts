import { stat } from 'node:fs/promises';
import { AdminError } from './errors.js';
import type { AdminContext } from './context.js';
import { checkRamdiskSize, estimateRamdisk, RamdiskError } from '../boot/ramdisk.js';
import { imageTemplateProblem } from '../boot/vars.js';
import { BlobError, type BlobRef } from '../images/blob-store.js';
import { FetchError } from '../images/fetch.js';
import { importSource, localPath, type ImportOptions } from '../images/import.js';
import { addressGuard } from '../images/url-guard.js';
import type { Config } from '../config/types.js';
import { checkPiLimits, type PiLimitWarning } from '../images/pi-limits.js';
import type { ImageRecord } from '../inventory/images.js';

export interface ImageInput {
  name: string;
  arch?: string;
  /** Local path or http(s) URL. */
  kernel: string;
  kernelSha256?: string;
  /** Local path or http(s) URL. */
  initrd?: string;
  initrdSha256?: string;
  cmdline?: string;
  configTxt?: string;
  notes?: string;
  /** Local paths of Pi dtb files, stored under their base names. */
  dtbs?: string[];
  /**
   * Local directory of a Pi firmware set (start4.elf, fixup4.dat, dtbs, overlays/...): every file
   * is stored under its path relative to the directory and overrides the shared firmware.
   */
  firmware?: string;
  /** Build boot.img + boot.sig for Pis that boot it over HTTP (bootloader mode 7). */
  httpBoot?: boolean;
}

export const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An import asked for over the API: the config's images limits apply to it. */
export interface ApiImport {
  /** Aborted when the API client goes away: the downloads stop with it. */
  clientGone: AbortSignal;
}

/** What an import may reach and how long it may take; the CLI, running as its caller, has no limits. */
type SourceLimits = Pick<ImportOptions, 'roots' | 'refuseAddress' | 'signal'>;

function apiLimits(config: Config, api: ApiImport): { limits: SourceLimits; end: () => void } {
  const seconds = config.images.importDeadlineSeconds;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`images.importDeadlineSeconds (${seconds} s) passed`)), seconds * 1000);
  const limits: SourceLimits = {
    roots: config.images.importRoots,
    refuseAddress: addressGuard({ allowNetworks: config.images.allowUrlNetworks, serverAddress: config.serverAddress }),
    signal: AbortSignal.any([api.clientGone, deadline.signal]),
  };
  return { limits, end: () => clearTimeout(timer) };
}

/** Runs a store operation for `field`; operator mistakes (bad path, digest, URL) become 4xx naming it. */
async function forField<T>(field: string, limits: SourceLimits, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BlobError || error instanceof FetchError) {
      const forbidden = error.code === 'RB_BLOB_FORBIDDEN' || error.code === 'RB_FETCH_FORBIDDEN';
      throw new AdminError(forbidden ? 'RB_IMAGE_SOURCE_FORBIDDEN' : 'RB_IMAGE_SOURCE', forbidden ? 403 : 400, `${field}: ${error.message}`);
    }
    if (limits.signal?.aborted) {
      throw new AdminError('RB_IMAGE_SOURCE', 400, `${field}: import stopped (${(limits.signal.reason as Error).message}); nothing stored`);
    }
    throw error;
  }
}

/** A local file or an http(s) URL into the store. */
function put(context: AdminContext, limits: SourceLimits, field: string, source: string, expectedSha256?: string): Promise<BlobRef> {
  return forField(field, limits, async () => {
    const result = await importSource(context.store, source, { ...limits, ...(expectedSha256 && { expectedSha256 }) });
    if (result.kind === 'directory') throw new AdminError('RB_IMAGE_SOURCE', 400, `${field}: ${source} is a directory, not a file`);
    return result.blob;
  });
}

/** Every file of a firmware directory into the store, as relative path -> digest. */
async function putFirmware(context: AdminContext, limits: SourceLimits, dir: string): Promise<Record<string, string>> {
  const files = Object.entries(
    await forField('firmware', limits, async () => context.store.putDirectory(await localPath(dir, limits.roots), { signal: limits.signal })),
  );
  if (!files.length) {
    throw new AdminError('RB_IMAGE_SOURCE', 400, `firmware: ${dir} holds no files; give the directory with start4.elf, fixup4.dat, ...`);
  }
  return Object.fromEntries(files.map(([name, blob]) => [name, blob.digest]));
}

async function importFiles(context: AdminContext, limits: SourceLimits, input: ImageInput) {
  const kernel = await put(context, limits, 'kernel', input.kernel, input.kernelSha256);
  const initrd = input.initrd ? await put(context, limits, 'initrd', input.initrd, input.initrdSha256) : null;
  const dtbs: Record<string, string> = {};
  for (const dtb of input.dtbs ?? []) dtbs[dtb.split('/').pop()!] = (await put(context, limits, 'dtbs', dtb)).digest;
  const firmware = input.firmware ? await putFirmware(context, limits, input.firmware) : {};
  return { kernel, initrd, dtbs, firmware };
}

/**
 * Copies the files into the store and records a new image version (or returns the identical
 * newest one). `api` is set for API requests: then the config's images limits apply.
 */
export async function registerImage(
  context: AdminContext,
  input: ImageInput,
  by: string,
  api?: ApiImport,
): Promise<{ image: ImageRecord; created: boolean; warnings: ImageWarning[] }> {
  if (!IMAGE_NAME.test(input.name)) {
    throw new AdminError('RB_IMAGE_NAME', 400, `name: "${input.name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  }
  for (const field of ['cmdline', 'configTxt'] as const) {
    const problem = input[field] === undefined ? undefined : imageTemplateProblem(field, input[field]);
    if (problem) throw new AdminError('RB_IMAGE_TEMPLATE', 400, problem);
  }
  const scope = api ? apiLimits(context.config, api) : { limits: {}, end: () => undefined };
  const { kernel, initrd, dtbs, firmware } = await importFiles(context, scope.limits, input).finally(scope.end);
  if (input.httpBoot) await refuseOversizedRamdisk(context, { name: input.name, kernel, initrd, dtbs, firmware });
  const result = context.inventory.images.add({
    name: input.name,
    arch: input.arch ?? 'arm64',
    kernel,
    initrd,
    dtbs,
    firmware,
    cmdline: input.cmdline ?? null,
    configTxt: input.configTxt ?? null,
    notes: input.notes ?? null,
    httpBoot: input.httpBoot ?? false,
  });
  if (result.created) {
    context.events.record({ source: 'api', kind: 'image-added', detail: { image: input.name, version: result.image.version, by } });
  }
  return { ...result, warnings: imageWarnings(result.image) };
}

/** An HTTP boot image whose boot.img could never load is refused now, not at every boot. */
async function refuseOversizedRamdisk(
  context: AdminContext,
  files: { name: string; kernel: BlobRef; initrd: BlobRef | null; dtbs: Record<string, string>; firmware: Record<string, string> },
): Promise<void> {
  const ramdiskFiles = await estimateRamdisk(context.config, files, async (_, digest) => (await stat(context.store.pathOf(digest))).size);
  try {
    checkRamdiskSize(ramdiskFiles, `httpBoot: image ${files.name}`);
  } catch (error) {
    if (error instanceof RamdiskError) throw new AdminError(error.code, 400, `${error.message}; nothing registered (\`rackboot image gc\` frees the imported files)`);
    throw error;
  }
}


/** A Pi TFTP limit warning as the API, the CLI and the page show it: what is wrong, and apart, how to fix it. */
export interface ImageWarning {
  code: PiLimitWarning['code'];
  file: PiLimitWarning['file'];
  message: string;
  fix: string;
}

export function imageWarnings(image: ImageRecord): ImageWarning[] {
  if (image.arch !== 'arm64' && image.arch !== 'arm32') return [];
  const sizes = { kernelSize: image.kernel.size, ...(image.initrd && { initramfsSize: image.initrd.size }) };
  return checkPiLimits(sizes).map(({ code, file, message, whatToDo }) => ({ code, file, message, fix: whatToDo }));
}

/** How many of the nodes holding an image a refused removal names; the rest are counted. */
const HOLDERS_SHOWN = 5;

export function removeImage(context: AdminContext, name: string, version?: number): number {
  const assigned = context.inventory.assignments.imagesInUse();
  if (assigned.has(name) && (version === undefined || context.inventory.images.versions(name).length === 1)) {
    const { nodes, total } = context.inventory.assignments.holders(name, HOLDERS_SHOWN);
    const more = total > nodes.length ? ` and ${total - nodes.length} more` : '';
    throw new AdminError(
      'RB_IMAGE_IN_USE',
      409,
      `image ${name} is assigned to ${total} node${total === 1 ? '' : 's'} (${nodes.join(', ')}${more}): assign them another image first`,
    );
  }
  if (name === context.config.defaultImage && version === undefined) {
    throw new AdminError('RB_IMAGE_IN_USE', 409, `image ${name} is the configured defaultImage`);
  }
  const removed = context.inventory.images.remove(name, version);
  if (!removed) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `no image ${name}${version ? ` version ${version}` : ''}`);
  return removed;
}
