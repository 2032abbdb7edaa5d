import { AdminError } from './errors.js';
import type { AdminContext } from './context.js';
import { imageTemplateProblem } from '../boot/vars.js';
import { BlobError, type BlobRef } from '../images/blob-store.js';
import { FetchError } from '../images/fetch.js';
import { importSource } from '../images/import.js';
import { checkPiLimits } from '../images/pi-limits.js';
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
}

export const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Runs a store operation for `field`; operator mistakes (bad path, digest, URL) become 400s naming it. */
async function forField<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BlobError || error instanceof FetchError) {
      throw new AdminError('RB_IMAGE_SOURCE', 400, `${field}: ${error.message}`);
    }
    throw error;
  }
}

/** A local file or an http(s) URL into the store. */
function put(context: AdminContext, field: string, source: string, expectedSha256?: string): Promise<BlobRef> {
  return forField(field, async () => {
    const result = await importSource(context.store, source, expectedSha256 ? { expectedSha256 } : {});
    if (result.kind === 'directory') throw new AdminError('RB_IMAGE_SOURCE', 400, `${field}: ${source} is a directory, not a file`);
    return result.blob;
  });
}

/** Every file of a firmware directory into the store, as relative path -> digest. */
async function putFirmware(context: AdminContext, dir: string): Promise<Record<string, string>> {
  const files = Object.entries(await forField('firmware', () => context.store.putDirectory(dir)));
  if (!files.length) {
    throw new AdminError('RB_IMAGE_SOURCE', 400, `firmware: ${dir} holds no files; give the directory with start4.elf, fixup4.dat, ...`);
  }
  return Object.fromEntries(files.map(([name, blob]) => [name, blob.digest]));
}

/** Copies the files into the store and records a new image version (or returns the identical newest one). */
export async function registerImage(
  context: AdminContext,
  input: ImageInput,
  by: string,
): Promise<{ image: ImageRecord; created: boolean; warnings: string[] }> {
  if (!IMAGE_NAME.test(input.name)) {
    throw new AdminError('RB_IMAGE_NAME', 400, `name: "${input.name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  }
  for (const field of ['cmdline', 'configTxt'] as const) {
    const problem = input[field] === undefined ? undefined : imageTemplateProblem(field, input[field]);
    if (problem) throw new AdminError('RB_IMAGE_TEMPLATE', 400, problem);
  }
  const kernel = await put(context, 'kernel', input.kernel, input.kernelSha256);
  const initrd = input.initrd ? await put(context, 'initrd', input.initrd, input.initrdSha256) : null;
  const dtbs: Record<string, string> = {};
  for (const dtb of input.dtbs ?? []) dtbs[dtb.split('/').pop()!] = (await put(context, 'dtbs', dtb)).digest;
  const firmware = input.firmware ? await putFirmware(context, input.firmware) : {};
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
  });
  if (result.created) {
    context.events.record({ source: 'api', kind: 'image-added', detail: { image: input.name, version: result.image.version, by } });
  }
  return { ...result, warnings: imageWarnings(result.image) };
}

export function imageWarnings(image: ImageRecord): string[] {
  if (image.arch !== 'arm64' && image.arch !== 'arm32') return [];
  const sizes = { kernelSize: image.kernel.size, ...(image.initrd && { initramfsSize: image.initrd.size }) };
  return checkPiLimits(sizes).map((warning) => `${warning.message} ${warning.whatToDo}`);
}

export function removeImage(context: AdminContext, name: string, version?: number): number {
  const assigned = context.inventory.assignments.imagesInUse();
  if (assigned.has(name) && (version === undefined || context.inventory.images.versions(name).length === 1)) {
    throw new AdminError('RB_IMAGE_IN_USE', 409, `image ${name} is assigned to nodes: assign them another image first`);
  }
  if (name === context.config.defaultImage && version === undefined) {
    throw new AdminError('RB_IMAGE_IN_USE', 409, `image ${name} is the configured defaultImage`);
  }
  const removed = context.inventory.images.remove(name, version);
  if (!removed) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `no image ${name}${version ? ` version ${version}` : ''}`);
  return removed;
}
