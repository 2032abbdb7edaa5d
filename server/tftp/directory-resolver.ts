import { ErrorCode } from './codec.js';
import { SafeOpenError, openHandleUnderRoot } from '../files/safe-open.js';
import { TftpError, type TftpResolver, type TftpSource } from './source.js';
import { handleSource } from './sources.js';

const tftpCodeOf = { RB_PATH_TRAVERSAL: ErrorCode.ACCESS_VIOLATION, RB_ACCESS_DENIED: ErrorCode.ACCESS_VIOLATION, RB_NOT_FOUND: ErrorCode.FILE_NOT_FOUND } as const;

/** Opens a request path under `root` (see openHandleUnderRoot), turning refusals into TFTP errors. */
export async function openUnderRootForTftp(root: string, requestPath: string): Promise<TftpSource> {
  try {
    const opened = await openHandleUnderRoot(root, requestPath);
    return handleSource(opened.handle, opened.size);
  } catch (error) {
    if (error instanceof SafeOpenError) throw new TftpError(tftpCodeOf[error.code], error.message);
    throw error;
  }
}

/** Serves every file under one directory: the firmware root, tests and the standalone bench server. */
export function directoryResolver(root: string): TftpResolver {
  return (requestPath) => openUnderRootForTftp(root, requestPath);
}
