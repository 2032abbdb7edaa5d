import { refusalOf } from '../files/refusals.js';
import { openHandleUnderRoot } from '../files/safe-open.js';
import { TftpError, type TftpResolver, type TftpSource } from './source.js';
import { handleSource } from './sources.js';

/** Opens a request path under `root` (see openHandleUnderRoot), turning refusals into TFTP errors. */
export async function openUnderRootForTftp(root: string, requestPath: string): Promise<TftpSource> {
  try {
    const opened = await openHandleUnderRoot(root, requestPath);
    return handleSource(opened.handle, opened.size);
  } catch (error) {
    const refusal = refusalOf(error);
    if (refusal) throw new TftpError(refusal.tftp, (error as Error).message);
    throw error;
  }
}

/** Serves every file under one directory: the firmware root, tests and the standalone bench server. */
export function directoryResolver(root: string): TftpResolver {
  return (requestPath) => openUnderRootForTftp(root, requestPath);
}
