/**
 * `boot.sig` for a Raspberry Pi HTTP boot (or secure boot) `boot.img`, in the format of Raspberry
 * Pi's rpi-eeprom-digest: the sha256 of the image as a hex line, `ts: <epoch seconds>`, and with
 * an RSA key `rsa2048: <hex>`, the RSA PKCS#1 v1.5 signature over SHA-256 of the image (what
 * `openssl dgst -sha256 -sign key.pem` makes). The bootloader checks only 2048-bit RSA keys.
 *
 * Exports `bootSig(file, options)`, `loadSigningKey(path)`, `SigningKeyError` (RB_SIGNING_KEY).
 */
import { createHash, createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';

export class SigningKeyError extends Error {
  readonly code = 'RB_SIGNING_KEY';
}

/** Reads the PEM private key at `file`; `field` names the config setting in errors. */
export function loadSigningKey(file: string, field = 'httpBoot.signingKey'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new SigningKeyError(`${field}: cannot read a PEM private key from ${file}: ${reason}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || bits !== 2048) {
    const what = key.asymmetricKeyType === 'rsa' ? `a ${bits}-bit RSA key` : `a ${key.asymmetricKeyType} key`;
    throw new SigningKeyError(`${field}: ${file} is ${what}; the Raspberry Pi bootloader checks RSA 2048 signatures only (openssl genrsa -out key.pem 2048)`);
  }
  return key;
}

/** What rpi-eeprom-digest writes first in boot.sig and pieeprom.sig alike: the sha256 in hex, then `ts: <unix seconds>`. */
export function digestLines(sha256Hex: string, ts: number): string {
  return `${sha256Hex}\nts: ${Math.floor(ts)}\n`;
}

/** The boot.sig text for the file: hashed (and signed) in one read. */
export async function bootSig(file: string, options: { ts: number; key?: KeyObject }): Promise<string> {
  const hash = createHash('sha256');
  const signer = options.key ? createSign('sha256') : undefined;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    signer?.update(chunk as Buffer);
  }
  let text = digestLines(hash.digest('hex'), options.ts);
  if (signer && options.key) text += `rsa2048: ${signer.sign(options.key).toString('hex')}\n`;
  return text;
}
