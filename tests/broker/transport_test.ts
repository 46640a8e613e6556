import assert from "node:assert/strict";
import type { BrokerApi } from "../../broker/api.ts";
import { listenTcp, type TcpIo } from "../../broker/listen.ts";
import type { Transport } from "../../broker/transport.ts";

const broker = { registerListener: () => () => {} } as unknown as BrokerApi;

/** A listener whose connections go to `onConnection`; closed by the caller. */
function listen(io: TcpIo, onConnection: (t: Transport) => void) {
  return listenTcp(broker, {
    name: "test:tcp",
    protocol: "test",
    port: 0,
    hostname: "127.0.0.1",
    io,
    connections: () => 0,
    onConnection,
  });
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
}

/** Reads until EOF, or until `size` bytes. */
async function readAll(conn: Deno.Conn, size = Infinity): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  while (total < size) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const pattern = (size: number) => new Uint8Array(size).map((_, i) => (i * 31 + (i >> 10)) & 0xff);

for (const io of ["deno", "epoll"] as const) {
  Deno.test(`transport (${io}): writes made across many microtasks and later turns all arrive, in order`, async () => {
    const l = listen(io, (t) => {
      t.start(() => {
        // As a protocol that awaits per frame: each write in a later microtask, some after a timer.
        void (async () => {
          for (let i = 0; i < 3000; i++) {
            await Promise.resolve();
            if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 1));
            t.write(new Uint8Array([i & 0xff, i >> 8]));
          }
          t.end();
        })();
      }, () => {});
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    await writeAll(conn, new Uint8Array([1]));
    const got = await readAll(conn);
    conn.close();
    await l.close();
    assert.equal(got.length, 6000);
    for (let i = 0; i < 3000; i++) assert.equal(got[2 * i] | (got[2 * i + 1] << 8), i, `message ${i}`);
  });

  Deno.test(`transport (${io}): echoes a large stream in order while both sides write`, async () => {
    const closed = Promise.withResolvers<void>();
    let remote = "";
    const l = listen(io, (t) => {
      remote = t.remote;
      t.start((bytes) => t.write(bytes.slice()), () => closed.resolve());
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    const sent = pattern(8 * 1024 * 1024);
    // The echo is read while writing: neither side's buffers can hold it all.
    const back = readAll(conn, sent.length);
    await writeAll(conn, sent);
    const got = await back;
    assert.equal(got.length, sent.length);
    assert.ok(got.every((b, i) => b === sent[i]), "the echo differs from what was sent");
    assert.equal(remote, `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`);
    conn.close();
    await closed.promise;
    await l.close();
  });

  Deno.test(`transport (${io}): end() delivers every queued byte, then the peer sees EOF`, async () => {
    const closed = Promise.withResolvers<void>();
    const payload = pattern(4 * 1024 * 1024);
    const l = listen(io, (t) => {
      t.start(() => {
        t.write(payload);
        t.end();
      }, () => closed.resolve());
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    await conn.write(new Uint8Array([1]));
    const got = await readAll(conn);
    assert.equal(got.length, payload.length);
    assert.ok(got.every((b, i) => b === payload[i]));
    conn.close();
    await closed.promise;
    await l.close();
  });

  Deno.test(`transport (${io}): stops reading a client that does not read, resumes when it does`, async () => {
    const closed = Promise.withResolvers<void>();
    let received = 0;
    let transport!: Transport;
    const l = listen(io, (t) => {
      transport = t;
      // Every byte in comes back 64-fold: output outgrows input until the client reads.
      t.start((bytes) => {
        received += bytes.length;
        t.write(new Uint8Array(bytes.length * 64));
      }, () => closed.resolve());
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    const total = 4 * 1024 * 1024;
    const chunk = new Uint8Array(64 * 1024);
    let written = 0;
    const writing = (async () => {
      while (written < total) {
        written += await conn.write(chunk.subarray(0, Math.min(chunk.length, total - written)));
      }
    })();
    // Without reading, the broker must stop reading too: the writer stalls well short of the total.
    const deadline = Date.now() + 10_000;
    let last = -1;
    while (received !== last && Date.now() < deadline) {
      last = received;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(received < total, `read ${received} bytes from a client that never read its output`);
    assert.ok(transport.buffered < 256 * 1024 * 4 + 64 * 64 * 1024 * 2, `buffered ${transport.buffered}`);
    const out = await readAll(conn, total * 64);
    await writing;
    assert.equal(received, total);
    assert.equal(out.length, total * 64);
    conn.close();
    await closed.promise;
    await l.close();
  });

  Deno.test(`transport (${io}): a handler that throws ends its own connection only`, async () => {
    const closed = Promise.withResolvers<void>();
    const l = listen(io, (t) =>
      t.start((bytes) => {
        if (bytes[0] === 0xff) throw new Error("bad input");
        t.write(bytes.slice());
      }, () => closed.resolve()));
    const bad = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    const good = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    await bad.write(new Uint8Array([0xff]));
    assert.equal(await bad.read(new Uint8Array(1)), null);
    await closed.promise;
    await good.write(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await readAll(good, 3), new Uint8Array([1, 2, 3]));
    bad.close();
    good.close();
    await l.close();
  });

  Deno.test(`transport (${io}): the peer closing ends the connection; close() frees the port`, async () => {
    const closed = Promise.withResolvers<void>();
    const l = listen(io, (t) => t.start(() => {}, () => closed.resolve()));
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: l.port });
    await conn.write(new Uint8Array([1, 2, 3]));
    conn.close();
    await closed.promise;
    const port = l.port;
    await l.close();
    const again = listen(io, () => {});
    assert.notEqual(again.port, 0);
    await again.close();
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  });
}

Deno.test("transport (epoll): listens on IPv6 loopback and names IPv6 peers", async () => {
  const closed = Promise.withResolvers<void>();
  let remote = "";
  const l = listenTcp(broker, {
    name: "test:tcp",
    protocol: "test",
    port: 0,
    hostname: "::1",
    io: "epoll",
    connections: () => 0,
    onConnection: (t) => {
      remote = t.remote;
      t.start(() => {}, () => closed.resolve());
    },
  });
  const conn = await Deno.connect({ hostname: "::1", port: l.port });
  await conn.write(new Uint8Array([1]));
  conn.close();
  await closed.promise;
  assert.equal(remote, `[::1]:${(conn.localAddr as Deno.NetAddr).port}`);
  await l.close();
});

Deno.test("transport (epoll): a host name is refused with the reason", () => {
  assert.throws(
    () =>
      listenTcp(broker, {
        name: "x",
        protocol: "x",
        port: 0,
        hostname: "example.com",
        io: "epoll",
        connections: () => 0,
        onConnection: () => {},
      }),
    /IP address/,
  );
});
