/**
 * Admin tokens that anyone can read in rackboot's own files (the example config of earlier
 * releases, the test helpers before they drew a random token). A daemon accepting one of them
 * accepts writes from anyone on the LAN, so the config loader refuses them.
 * test/config.test.ts scans the repository for adminToken values and checks each is listed here.
 */
export const PUBLISHED_TOKENS: ReadonlySet<string> = new Set(['change-me-to-a-long-random-token', 'test-admin-token-0123456789']);

/** Placeholders an operator may have copied from a tutorial or typed in passing. */
const PLACEHOLDER = /change.?me|replace.?me|your.?token|^(.)\1*$/i;

export function isPublishedToken(token: string): boolean {
  return PUBLISHED_TOKENS.has(token) || PLACEHOLDER.test(token);
}
