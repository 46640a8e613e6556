/**
 * `deno task bench crypto`: the crypto-sm plugin's cost.
 * - seal + unseal of 1 KiB bodies per cipher (SM4-CBC + HMAC-SM3, AES-256-GCM), and the same SM4 seal
 *   on npm sm-crypto (the tests' reference, what the plugin used before its own SM4/SM3) as a ratio
 * - SM3 digest and HMAC-SM3 of 1 KiB (ours and sm-crypto's), SM2 sign / verify
 * - publish -> deliver of 1 KiB bodies through an in-process broker (queue 1 -> 1), with the plugin off and
 *   with a sealing rule per cipher, as a ratio to "off"
 *
 * @module
 */
import { createBroker, type PluginEntry } from "../../mod.ts";
import type { Cipher } from "../../plugins/crypto-sm/mod.ts";
import { aes256Gcm } from "../../plugins/crypto-sm/aes_gcm.ts";
import { sm2Sm3 } from "../../plugins/crypto-sm/sm2.ts";
import { HmacSm3, sm3Hex } from "../../plugins/crypto-sm/sm3.ts";
import { sm4CbcHmacSm3 } from "../../plugins/crypto-sm/sm4.ts";
import { refSm3, refSm4CbcHmacSm3 } from "../../tests/plugins/crypto-sm/reference.ts";

const BODY = crypto.getRandomValues(new Uint8Array(1024));
const AAD = new TextEncoder().encode("bench\0k1\0bench.q");

// deno-lint-ignore no-console
const print = (s: string) => console.log(s);
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const ratio = (x: number, to: number) => `${(x / to).toFixed(x < to / 10 ? 3 : 2)}x`;

/** Seal + unseal pairs per second. */
async function cipherPairs(c: Cipher, n: number): Promise<number> {
  const key = await c.importKey(crypto.getRandomValues(new Uint8Array(c.keyLength)));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) c.unseal(key, await c.seal(key, BODY, AAD), AAD);
  return n / (performance.now() - t0) * 1000;
}

function perSecond(n: number, f: () => unknown): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  return n / (performance.now() - t0) * 1000;
}

/** publish -> deliver msgs/s of 1 KiB bodies on one in-memory queue, with `plugins` loaded. */
async function throughBroker(plugins: PluginEntry[], n: number): Promise<number> {
  const b = await createBroker({ plugins }, { printLogs: false });
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  await b.subscribe({ kind: "queue", destination: "bench.q", prefetch: 1000 }, (d, s) => {
    if (d.message.body.byteLength !== BODY.byteLength) throw new Error("the body did not open");
    s.ack([d.tag]);
    s.credit(1);
    if (++got === n) done();
  });
  const t0 = performance.now();
  let sent = 0;
  // Windowed, so sealing and delivering interleave as they would with real producers.
  await new Promise<void>((resolve, reject) => {
    let inFlight = 0;
    const pump = () => {
      while (inFlight < 100 && sent < n) {
        inFlight++;
        sent++;
        b.publish({ kind: "queue", destination: "bench.q", body: BODY }).then(() => {
          inFlight--;
          if (sent === n && inFlight === 0) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
  await finished;
  const rate = n / (performance.now() - t0) * 1000;
  await b.stop();
  return rate;
}

const sealing = (keys: unknown[]): PluginEntry => ({
  use: "crypto-sm",
  options: { keys, rules: [{ pattern: "bench.>", seal: "k" }] },
});

/** Runs the suite and prints the figures. */
export async function main(_args: string[]): Promise<void> {
  print(`crypto benchmark, ${new Date().toISOString()}, Deno ${Deno.version.deno}, 1 KiB bodies`);
  await cipherPairs(sm4CbcHmacSm3, 3_000); // warm-up
  await cipherPairs(refSm4CbcHmacSm3, 300);
  await cipherPairs(aes256Gcm, 3_000);
  const sm4 = await cipherPairs(sm4CbcHmacSm3, 30_000);
  const ref = await cipherPairs(refSm4CbcHmacSm3, 2_000);
  const aes = await cipherPairs(aes256Gcm, 50_000);
  const line = (name: string, x: number) =>
    print(
      `seal+unseal ${name} ${fmt(x)} pairs/s  (${(x * 1024 / 1e6).toFixed(2)} MB/s, ${ratio(x, aes)} aes)`,
    );
  line("sm4-cbc-hmac-sm3:          ", sm4);
  line("sm4-cbc-hmac-sm3 sm-crypto:", ref);
  line("aes-256-gcm:               ", aes);
  print(`sm4 ours / sm-crypto: ${ratio(sm4, ref)}`);
  const mac = new HmacSm3(BODY.subarray(0, 32)), out = new Uint8Array(32), macKey = BODY.subarray(0, 32);
  const sm3 = perSecond(50_000, () => sm3Hex(BODY));
  const sm3Ref = perSecond(5_000, () => refSm3(BODY));
  const hmac = perSecond(50_000, () => mac.update(BODY).digestInto(out, 0));
  const hmacRef = perSecond(5_000, () => refSm3(BODY, { key: macKey }));
  print(`sm3 digest: ${fmt(sm3)}/s (sm-crypto ${fmt(sm3Ref)}/s, ${ratio(sm3, sm3Ref)})`);
  print(`hmac-sm3:   ${fmt(hmac)}/s (sm-crypto ${fmt(hmacRef)}/s, ${ratio(hmac, hmacRef)})`);
  const key = sm2Sm3.importKey({
    privateKey: "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8",
  });
  const sig = sm2Sm3.sign(key, BODY);
  const sign = perSecond(200, () => sm2Sm3.sign(key, BODY));
  const verify = perSecond(200, () => sm2Sm3.verify(key, BODY, sig));
  print(`sm2 sign: ${fmt(sign)}/s   sm2 verify: ${fmt(verify)}/s`);

  const sm4Keys = [{ id: "k", hex: "00112233445566778899aabbccddeeff" }];
  const aesKeys = [{ id: "k", cipher: "aes-256-gcm", hex: "00".repeat(32) }];
  await throughBroker([], 5_000); // warm-up
  const off = await throughBroker([], 50_000);
  const noRules = await throughBroker([{ use: "crypto-sm" }], 50_000);
  const viaSm4 = await throughBroker([sealing(sm4Keys)], 30_000);
  const viaAes = await throughBroker([sealing(aesKeys)], 30_000);
  print(`publish -> deliver, plugin off:            ${fmt(off)} msgs/s`);
  print(
    `publish -> deliver, plugin on, no rules:   ${fmt(noRules)} msgs/s  (${(noRules / off).toFixed(2)}x)`,
  );
  print(
    `publish -> deliver, sealed sm4:            ${fmt(viaSm4)} msgs/s  (${ratio(viaSm4, off)}, ${
      ratio(viaSm4, viaAes)
    } aes)`,
  );
  print(`publish -> deliver, sealed aes-256-gcm:    ${fmt(viaAes)} msgs/s  (${ratio(viaAes, off)})`);
}
