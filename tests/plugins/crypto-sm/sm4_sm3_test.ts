/**
 * The plugin's own SM4 (sm4_block.ts) and SM3 (sm3.ts) against npm sm-crypto on random inputs, and the
 * sm4-cbc-hmac-sm3 wire format both ways: what sm-crypto sealed opens, what the plugin seals opens with
 * sm-crypto, and a body sealed before the rewrite still opens.
 */
import assert from "node:assert/strict";
import { UnsealError } from "../../../plugins/crypto-sm/cipher.ts";
import { fromHex, toHex } from "../../../plugins/crypto-sm/hex.ts";
import { HmacSm3, hmacSm3, Sm3, sm3Hex } from "../../../plugins/crypto-sm/sm3.ts";
import { sm4CbcHmacSm3 } from "../../../plugins/crypto-sm/sm4.ts";
import {
  cbcLength,
  sm4Block,
  sm4CbcDecrypt,
  sm4CbcEncrypt,
  sm4Schedule,
} from "../../../plugins/crypto-sm/sm4_block.ts";
import { refDerive, refMac, refSm3, refSm4, refSm4CbcHmacSm3 } from "./reference.ts";

const random = (n: number) => {
  const b = new Uint8Array(n);
  // getRandomValues takes at most 65,536 bytes at once.
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
};
const utf8 = (s: string) => new TextEncoder().encode(s);
/** 0..130 bytes (every padding and SM3 block boundary), then larger and odd sizes. */
const LENGTHS = [...Array(131).keys(), 255, 256, 1023, 1024, 1025, 4097, 65_537, 1 << 20];

Deno.test("SM4 single blocks match sm-crypto for 500 random keys and blocks, both ways", () => {
  for (let i = 0; i < 500; i++) {
    const key = random(16), block = random(16);
    const rk = sm4Schedule(key);
    const out = new Uint8Array(16);
    sm4Block(rk.enc, block, 0, out, 0);
    assert.equal(toHex(out), toHex(refSm4.encrypt(block, key, { padding: "none", output: "array" })));
    sm4Block(rk.dec, out, 0, out, 0);
    assert.deepEqual(out, block);
  }
});

Deno.test("SM4-CBC with PKCS#7 matches sm-crypto for every length 0..130 and up to 1 MiB, random keys and ivs", () => {
  for (const n of LENGTHS) {
    const key = random(16), iv = random(16), plain = random(n);
    const rk = sm4Schedule(key);
    const ct = new Uint8Array(cbcLength(n));
    sm4CbcEncrypt(rk, iv, plain, ct);
    const ref = refSm4.encrypt(plain, key, { mode: "cbc", iv, output: "array" });
    assert.equal(toHex(ct), toHex(ref), `encrypt, ${n} bytes`);
    const out = new Uint8Array(ct.byteLength);
    const len = sm4CbcDecrypt(rk, iv, ct, out);
    assert.deepEqual(out.subarray(0, len), plain, `decrypt, ${n} bytes`);
  }
});

Deno.test("SM4-CBC decryption reports wrong PKCS#7 padding as -1 and decrypts in place", () => {
  const key = random(16), iv = random(16);
  const rk = sm4Schedule(key);
  for (const last of [[0], [17], [2, 3], [255]]) {
    const block = random(16);
    block.set(last, 16 - last.length);
    const ct = refSm4.encrypt(block, key, { mode: "cbc", iv, padding: "none", output: "array" });
    const out = new Uint8Array(16);
    assert.equal(sm4CbcDecrypt(rk, iv, Uint8Array.from(ct), out), -1, `ends ${last}`);
  }
  const plain = random(100), ct = new Uint8Array(112);
  sm4CbcEncrypt(rk, iv, plain, ct);
  assert.equal(sm4CbcDecrypt(rk, iv, ct, ct), 100);
  assert.deepEqual(ct.subarray(0, 100), plain);
});

Deno.test("SM3 matches sm-crypto for every length 0..130 and up to 1 MiB, one-shot and fed in pieces", () => {
  const h = new Sm3();
  for (const n of LENGTHS) {
    const data = random(n);
    const want = refSm3(data);
    assert.equal(sm3Hex(data), want, `${n} bytes`);
    // Uneven pieces cross the 64-byte buffer at every offset.
    for (let at = 0, step = 1; at < n; at += step, step = (step * 7 + 3) % 97 + 1) {
      h.update(data.subarray(at, Math.min(n, at + step)));
    }
    assert.equal(toHex(h.digestInto(new Uint8Array(32), 0)), want, `${n} bytes in pieces`);
  }
});

Deno.test("HMAC-SM3 matches sm-crypto for keys of 0..130 bytes (hashed past 64) and many lengths; a keyed MAC is reusable", () => {
  for (let k = 0; k <= 130; k++) {
    const key = random(k), data = random((k * 37) % 1100);
    const want = refSm3(data, { key });
    assert.equal(toHex(hmacSm3(key, data)), want, `key ${k} bytes, data ${data.byteLength} bytes`);
    const mac = new HmacSm3(key);
    for (let i = 0; i < 3; i++) {
      const out = mac.update(data.subarray(0, 10)).update(data.subarray(10)).digestInto(
        new Uint8Array(32),
        0,
      );
      assert.equal(toHex(out), want, `use ${i + 1} of one keyed MAC`);
    }
  }
});

Deno.test("sm4-cbc-hmac-sm3 derives the same halves as before: what each seals, the other opens", async () => {
  for (const n of LENGTHS.filter((n) => n <= 65_537)) {
    const raw = random(16), aad = random(n % 40), plain = random(n);
    const ours = sm4CbcHmacSm3.importKey(raw), ref = refDerive(raw);
    const fromRef = refSm4CbcHmacSm3.seal(ref, plain, aad);
    assert.deepEqual(sm4CbcHmacSm3.unseal(ours, fromRef, aad), plain, `sm-crypto -> ours, ${n} bytes`);
    const fromOurs = await sm4CbcHmacSm3.seal(ours, plain, aad);
    assert.equal(fromOurs.byteLength, fromRef.byteLength);
    assert.deepEqual(refSm4CbcHmacSm3.unseal(ref, fromOurs, aad), plain, `ours -> sm-crypto, ${n} bytes`);
  }
});

Deno.test("sm4-cbc-hmac-sm3 opens a body sealed by the sm-crypto version of the plugin", () => {
  // Sealed by the plugin on sm-crypto 0.5.8 (commit 48cb051), key k1 on destination pay.orders.
  const key = sm4CbcHmacSm3.importKey(fromHex("00112233445566778899aabbccddeeff", "key"));
  const sealed = fromHex(
    "7c17f1270731a44dbf444fbf4359449db38a6721d759ced6f3f200545046b0e8dd1a423977d155d8854fd04b58e26ce0" +
      "b50ac02d8e0405af9b3928dc03f98e58b6e8a01f33c3cea8a278ef16990fdeb2187412d17f81337139bd95cc9b9d92e8" +
      "739364d4f08ca878bab455f106d8ebdc9aad8e64fac65a79f6fc78e47a24477b",
    "sealed",
  );
  const plain = sm4CbcHmacSm3.unseal(key, sealed, utf8("sm4-cbc-hmac-sm3\0k1\0pay.orders"));
  assert.equal(
    new TextDecoder().decode(plain),
    "pay 10 to alice, sealed by sm-crypto 0.5.8 before the typed-array rewrite",
  );
});

Deno.test("sm4-cbc-hmac-sm3: a body with a valid MAC but wrong padding is seal_malformed, not a crash", () => {
  const raw = random(16), aad = utf8("a");
  const ref = refDerive(raw);
  const iv = random(16), block = random(16);
  block[15] = 0;
  const ct = Uint8Array.from(
    refSm4.encrypt(block, ref.enc, { mode: "cbc", iv, padding: "none", output: "array" }),
  );
  const body = new Uint8Array([...iv, ...ct]);
  const sealed = new Uint8Array([...body, ...refMac(ref.mac, aad, body)]);
  try {
    sm4CbcHmacSm3.unseal(sm4CbcHmacSm3.importKey(raw), sealed, aad);
    assert.fail("opened a body with wrong padding");
  } catch (e) {
    assert.ok(e instanceof UnsealError && e.code === "seal_malformed", String(e));
  }
});
