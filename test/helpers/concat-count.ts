/** Counts the bytes Buffer.concat copies while `work` runs: decode cost by count, not by clock. */
export function concatBytesDuring<T>(work: () => T): { result: T; copied: number } {
  const original = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], totalLength?: number) => {
    const joined = original(list, totalLength);
    copied += joined.length;
    return joined;
  }) as typeof Buffer.concat;
  try {
    return { result: work(), copied };
  } finally {
    Buffer.concat = original;
  }
}
