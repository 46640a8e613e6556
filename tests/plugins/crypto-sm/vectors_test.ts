/**
 * Known-answer tests from the GM/T standards: SM4 and SM3 through the plugin's own code and through npm
 * sm-crypto (the reference the cross-checks in sm4_sm3_test.ts compare against); SM2 through sm-crypto
 * exactly as the plugin calls it.
 *
 * SM2: the examples in GB/T 32918.2/.4 Annex A use a test curve that sm-crypto cannot load (it has the
 * recommended curve built in), so these are the examples on the recommended curve from GM/T 0003.5 /
 * GB/T 32918.5 (key, user id "1234567812345678", k, r, s, and the "encryption standard" ciphertext).
 */
import assert from "node:assert/strict";
import smCrypto from "sm-crypto";
import { fromHex, toHex } from "../../../plugins/crypto-sm/hex.ts";
import { sm2Sm3 } from "../../../plugins/crypto-sm/sm2.ts";
import { sm3Hex } from "../../../plugins/crypto-sm/sm3.ts";
import { sm2 } from "../../../plugins/crypto-sm/sm_crypto.ts";
import { sm4Block, sm4Schedule } from "../../../plugins/crypto-sm/sm4_block.ts";
import { refSm3, refSm4 } from "./reference.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

const SM4_KEY = "0123456789abcdeffedcba9876543210";

Deno.test("SM4 encrypts the GB/T 32907 Annex A example 1 block and decrypts it back", () => {
  const key = fromHex(SM4_KEY, "key");
  const rk = sm4Schedule(key);
  const block = key.slice();
  sm4Block(rk.enc, block, 0, block, 0);
  assert.equal(toHex(block), "681edf34d206965e86b3e94f536e4246");
  sm4Block(rk.dec, block, 0, block, 0);
  assert.equal(toHex(block), SM4_KEY);
  const ct = refSm4.encrypt(key, key, { padding: "none", output: "array" });
  assert.equal(toHex(ct), "681edf34d206965e86b3e94f536e4246", "sm-crypto");
  assert.equal(toHex(refSm4.decrypt(ct, key, { padding: "none", output: "array" })), SM4_KEY, "sm-crypto");
});

Deno.test("SM4 encrypting the block 1,000,000 times gives the GB/T 32907 Annex A example 2", () => {
  const key = fromHex(SM4_KEY, "key");
  const rk = sm4Schedule(key);
  const block = key.slice();
  for (let i = 0; i < 1_000_000; i++) sm4Block(rk.enc, block, 0, block, 0);
  assert.equal(toHex(block), "595298c7c6fd271f0402f804c33d3f66");
  let b: ArrayLike<number> = key;
  for (let i = 0; i < 1_000_000; i++) b = refSm4.encrypt(b, key, { padding: "none", output: "array" });
  assert.equal(toHex(b), "595298c7c6fd271f0402f804c33d3f66", "sm-crypto");
});

Deno.test('SM3 hashes the GB/T 32905 Annex A examples ("abc" and 512-bit "abcd" x 16)', () => {
  const examples = [
    ["abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"],
    ["abcd".repeat(16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"],
  ];
  for (const [text, digest] of examples) {
    assert.equal(sm3Hex(utf8(text)), digest);
    assert.equal(refSm3(utf8(text)), digest, "sm-crypto");
  }
});

const D = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
const P = "04" + "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020" +
  "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";
const K = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21";
const R = "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3";
const S = "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa";

Deno.test("SM2 derives the standard's public key from its private key", () => {
  assert.equal(sm2.getPublicKeyFromPrivateKey(D), P);
  assert.equal(sm2Sm3.importKey({ privateKey: D }).publicKey, P);
});

Deno.test('SM2 signs "message digest" with the standard\'s k and gets its r and s', () => {
  // sm-crypto takes k through its pointPool: k and the x coordinate of kG, as its own BigIntegers.
  const lib = smCrypto as {
    sm2: { getPoint(): { k: { constructor: new (s: string, r: number) => unknown } } };
  };
  const BigInteger = lib.sm2.getPoint().k.constructor;
  const kG = sm2.getPublicKeyFromPrivateKey(K);
  const pointPool = [{ k: new BigInteger(K, 16), x1: new BigInteger(kG.slice(2, 66), 16) }];
  const sig = sm2.doSignature(utf8("message digest"), D, { hash: true, publicKey: P, pointPool });
  assert.equal(sig, R + S);
});

Deno.test("SM2 verifies the standard's signature with the standard's public key, and nothing else", () => {
  const key = sm2Sm3.importKey({ publicKey: P });
  assert.equal(sm2Sm3.canSign(key), false);
  assert.equal(sm2Sm3.verify(key, utf8("message digest"), R + S), true);
  assert.equal(sm2Sm3.verify(key, utf8("message digesT"), R + S), false);
  assert.equal(sm2Sm3.verify(key, utf8("message digest"), R + S.replace(/.$/, "b")), false);
  const otherId = sm2Sm3.importKey({ publicKey: P, userId: "ALICE123@YAHOO.COM" });
  assert.equal(sm2Sm3.verify(otherId, utf8("message digest"), R + S), false, "Z binds the user id");
});

Deno.test("SM2 signatures made by the plugin's signer verify, and a changed body does not", () => {
  const key = sm2Sm3.importKey({ privateKey: D });
  const body = utf8("transfer 100 to bob");
  const sig = sm2Sm3.sign(key, body);
  assert.match(sig, /^[0-9a-f]{128}$/);
  assert.equal(sm2Sm3.verify(key, body, sig), true);
  assert.equal(sm2Sm3.verify(key, utf8("transfer 900 to bob"), sig), false);
});

Deno.test('SM2 decrypts the standard\'s "encryption standard" ciphertext (C1 | C3 | C2)', () => {
  const c1 = "04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73" +
    "e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0";
  const c3 = "59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766";
  const c2 = "21886ca989ca9c7d58087307ca93092d651efa";
  const plain = sm2.doDecrypt(c1 + c3 + c2, D, 1, { output: "array" });
  assert.equal(new TextDecoder().decode(Uint8Array.from(plain)), "encryption standard");
  const broken = sm2.doDecrypt(c1 + c3 + c2.replace(/^2/, "3"), D, 1, { output: "array" });
  assert.equal(broken.length, 0, "C3 catches a changed C2");
});
