import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { aes256Gcm } from "../../../plugins/crypto-sm/aes_gcm.ts";
import { type Cipher, UnsealError } from "../../../plugins/crypto-sm/cipher.ts";
import { sm4CbcHmacSm3 } from "../../../plugins/crypto-sm/sm4.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const aad = utf8("alg\0key\0orders.eu");

/** What every cipher must do; a cipher another plugin registers can run the same checks. */
function cipherConformance(c: Cipher) {
  const raw = crypto.getRandomValues(new Uint8Array(c.keyLength));
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof UnsealError, `threw ${e}`);
      return e.code;
    }
    assert.fail("unseal accepted a bad body");
  };

  Deno.test(`${c.name}: seal then unseal gives back every body length from 0 to 70 and 1 KiB`, async () => {
    const key = await c.importKey(raw);
    for (const n of [...Array(71).keys(), 1024]) {
      const plain = crypto.getRandomValues(new Uint8Array(n));
      const sealed = await c.seal(key, plain, aad);
      assert.deepEqual(c.unseal(key, sealed, aad), plain);
    }
  });

  Deno.test(`${c.name}: two seals of one body differ (fresh iv) and neither contains the plain text`, async () => {
    const key = await c.importKey(raw);
    const plain = utf8("the plain text of a secret order, long enough to span blocks");
    const [a, b] = [await c.seal(key, plain, aad), await c.seal(key, plain, aad)];
    assert.notDeepEqual(a, b);
    assert.ok(!new TextDecoder("latin1").decode(a).includes("secret order"));
  });

  Deno.test(`${c.name}: any flipped bit, a truncation, another aad or another key fails as tampered`, async () => {
    const key = await c.importKey(raw);
    const sealed = await c.seal(key, utf8("pay 10 to alice"), aad);
    for (let i = 0; i < sealed.byteLength; i++) {
      const t = sealed.slice();
      t[i] ^= 0x01;
      assert.equal(code(() => c.unseal(key, t, aad)), "seal_tampered", `bit flip at byte ${i}`);
    }
    assert.equal(code(() => c.unseal(key, sealed, utf8("alg\0key\0orders.us"))), "seal_tampered");
    const other = await c.importKey(crypto.getRandomValues(new Uint8Array(c.keyLength)));
    assert.equal(code(() => c.unseal(other, sealed, aad)), "seal_tampered");
    assert.notEqual(code(() => c.unseal(key, sealed.subarray(0, sealed.byteLength - 1), aad)), undefined);
    assert.equal(code(() => c.unseal(key, new Uint8Array(3), aad)), "seal_malformed");
  });
}

cipherConformance(sm4CbcHmacSm3);
cipherConformance(aes256Gcm);

Deno.test("aes-256-gcm: what Web Crypto seals, node:crypto opens, and the other way round", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = await aes256Gcm.importKey(raw);
  const plain = utf8("interoperable");
  const sealed = await aes256Gcm.seal(key, plain, aad);
  const d = createDecipheriv("aes-256-gcm", raw, sealed.subarray(0, 12));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.byteLength - 16));
  const opened = new Uint8Array([...d.update(sealed.subarray(12, sealed.byteLength - 16)), ...d.final()]);
  assert.deepEqual(opened, plain);

  const iv = crypto.getRandomValues(new Uint8Array(12));
  const e = createCipheriv("aes-256-gcm", raw, iv);
  e.setAAD(aad);
  const ct = new Uint8Array([...e.update(plain), ...e.final()]);
  const fromNode = new Uint8Array([...iv, ...ct, ...e.getAuthTag()]);
  assert.deepEqual(aes256Gcm.unseal(key, fromNode, aad), plain);
});

Deno.test("sm4-cbc-hmac-sm3: a sealed body is iv | 16-byte blocks | 32-byte MAC", () => {
  const key = sm4CbcHmacSm3.importKey(crypto.getRandomValues(new Uint8Array(16)));
  assert.equal(sm4CbcHmacSm3.seal(key, new Uint8Array(0), aad).byteLength, 16 + 16 + 32);
  assert.equal(sm4CbcHmacSm3.seal(key, new Uint8Array(1024), aad).byteLength, 16 + 1040 + 32);
});
