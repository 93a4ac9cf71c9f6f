/**
 * `weft genkey`, `weft pubkey`, `weft genpsk`: WireGuard's key commands,
 * interchangeable with `wg genkey | wg pubkey` (same clamping, same base64).
 */
import { randomBytes } from 'node:crypto';
import { encodeKey, generateKeyText, publicKeyText } from '../crypto/keys.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function keyCommand(command: 'genkey' | 'pubkey' | 'genpsk'): Promise<void> {
  if (command === 'genkey') process.stdout.write(`${generateKeyText()}\n`);
  else if (command === 'genpsk') process.stdout.write(`${encodeKey(randomBytes(32))}\n`);
  else process.stdout.write(`${publicKeyText((await readStdin()).trim())}\n`);
}
