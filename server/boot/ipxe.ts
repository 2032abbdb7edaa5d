import type { Arch } from './client.js';
import type { BootFiles } from './files.js';
import type { BootPlan, BootPolicy } from './policy.js';
import type { TemplateLibrary } from './templates.js';
import { HTTP_INITRD_FILE, HTTP_KERNEL_FILE, nodeKey, planVars } from './vars.js';
import type { Config } from '../config/types.js';
import type { Mac } from '../net/mac.js';

/** How long an unassigned node waits before asking the chain endpoint again. */
export const WAIT_RETRY_SECONDS = 30;

export interface ChainRequest {
  mac: Mac;
  uefi: boolean | undefined;
  /** iPXE's ${buildarch}, already checked by ipxeArch. */
  arch: Arch | undefined;
  /** Where the request came from: the node's address for this boot. */
  address: string;
}

/** The ${buildarch} values we boot; a request naming anything else is refused, never echoed. */
export const IPXE_ARCHES: ReadonlySet<string> = new Set<Arch>(['i386', 'x86_64', 'arm64', 'arm32', 'riscv64']);

export function ipxeArch(text: string): Arch | undefined {
  return IPXE_ARCHES.has(text) ? (text as Arch) : undefined;
}

/**
 * Request text in a form safe to echo in a script: iPXE expands `${...}` in any command and a
 * newline starts a new one, so only characters a MAC or an arch could hold survive, and not many.
 */
export function echoable(text: string): string {
  return text.slice(0, 64).replace(/[^\w.:%-]/g, '?');
}

/** A script that tells the node's console why we cannot boot it, and stops. */
export function refusalScript(message: string): string {
  return `#!ipxe\necho rackboot: ${message}\nexit 1\n`;
}

/** Why a node the discovery budget refused waits (the budget's event says which limit). */
const NOT_RECORDED = 'is not recorded yet: auto-discovery is paused (see the discovery-refused event and the discovery settings)';

/** iPXE scripts: the first stage handed out by DHCP and the per-node chain script. */
export class IpxeScripts {
  constructor(
    private readonly config: Config,
    private readonly policy: BootPolicy,
    private readonly files: BootFiles,
    private readonly templates: TemplateLibrary,
  ) {}

  firstStage(): string {
    return this.templates.source('first-stage.ipxe');
  }

  /** The script for a chain request, and the plan behind it (undefined: the node waits). */
  chain(request: ChainRequest): { script: string; plan: BootPlan | undefined } {
    const { arch } = request;
    // The node's arch, not the build's, picks the image: BIOS iPXE is an i386 build on x86-64 PCs.
    const node = this.policy.observeChain(request.mac, arch);
    const plan = node && this.policy.bootPlan(node, 'start', node.arch);
    if (node) this.policy.bootContact(node, request.address);
    const http = this.policy.urls.http;
    if (!plan) {
      const chainUrl = `${http}/chain?mac=${request.mac}&arch=${arch ?? ''}&uefi=${request.uefi ?? ''}`;
      const reason = node ? this.policy.explainNoPlan(node) : NOT_RECORDED;
      const script = this.templates.render('wait.ipxe', { mac: request.mac, reason, retrySeconds: WAIT_RETRY_SECONDS, chainUrl });
      return { script, plan };
    }
    const base = `${http}/boot/${nodeKey(plan.node)}/images/${plan.image.id}`;
    const initrdUrl = plan.image.initrd ? `${base}/${HTTP_INITRD_FILE}` : '';
    const vars = planVars(plan, http, this.config.serverAddress);
    // Rendered from the plan's variables alone, as cmdline.txt is, before the chain's own join them.
    const cmdline = this.files.cmdline(plan, vars);
    // Extended in place, not cloned by `{ ...vars, kernelUrl }`: on node 20 (V8 11.3) an object cloned
    // by a leading spread and then given more properties outlives young-generation GCs. With the
    // spread a third of what a chain request allocated was copied at each scavenge: 5-15 ms pauses.
    Object.assign(vars, {
      kernelUrl: `${base}/${HTTP_KERNEL_FILE}`,
      initrdUrl,
      // EFI kernels find the initrd by this name (the last segment of its URL).
      initrdArg: initrdUrl ? `initrd=${HTTP_INITRD_FILE} ` : '',
      cmdline,
    });
    const script = this.templates.render('chain.ipxe', vars);
    return { script, plan };
  }
}
