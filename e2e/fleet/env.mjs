// Shared settings of the fleet tests (fleet.test.mjs, dpop.test.mjs): the environment run.sh
// exports, and fleet.sh to stop and start parts of the stack.
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** An environment variable run.sh sets; throws when it is missing (the tests run outside run.sh). */
export function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through e2e/fleet/run.sh`);
  return v;
}

export const FRONT = need('FRONT_URL'); // the fleet's public URL (the round-robin front)
export const HOSTS = { gw1: need('GW1_URL'), gw2: need('GW2_URL') }; // the hosts themselves
export const ISSUER = need('IDP_ISSUER');
export const STATE = need('STATE');
const FLEET_SH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fleet.sh');

/** Runs fleet.sh (cold-start, graceful gwN, redis-stop, redis-start); rejects with its output when it fails. */
export function fleetCtl(...args) {
  return new Promise((resolve, reject) => {
    execFile('bash', [FLEET_SH, ...args], { env: process.env, timeout: 100_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`fleet.sh ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
}
