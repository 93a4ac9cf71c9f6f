// The addon's batch calls and poll handle, exercised on a FIFO (any fd will
// do for read/write/poll), so these tests need neither root nor a TUN device.
// Behaviour that could crash a process runs in a child process.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../../src/native/addon.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-addon-'));
let fifoCount = 0;
const openFds: number[] = [];

/** A FIFO opened read-write and non-blocking: readable as soon as something is written to it. */
function fifo(): number {
  const path = join(dir, `f${fifoCount++}`);
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  openFds.push(fd);
  return fd;
}

const ADDON = join(packageRoot(), 'build', 'Release', 'weft_native.node');

/** Run a CommonJS snippet in a fresh node process with `addon` and `fifo()` in scope. */
function child(body: string, flags: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const prelude = `
    const addon = require(${JSON.stringify(ADDON)});
    const fs = require('node:fs');
    const { execFileSync } = require('node:child_process');
    let n = 0;
    function fifo() {
      const p = ${JSON.stringify(dir)} + '/c' + process.pid + '-' + n++;
      execFileSync('mkfifo', [p]);
      return fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    }
  `;
  const r = spawnSync(process.execPath, [...flags, '-e', prelude + body], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(() => {
  for (const fd of openFds) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

describe('native addon', () => {
  const addon = loadAddon();

  it('loads from the package root and exports the documented functions', () => {
    for (const fn of ['tunOpen', 'tunReadBatch', 'tunWriteBatch', 'pollStart', 'pollStop', 'closeFd', 'schedSetRealtime', 'schedGet', 'aeadSeal', 'aeadOpen', 'aeadAvailable']) {
      expect(typeof (addon as unknown as Record<string, unknown>)[fn], fn).toBe('function');
    }
  });

  it('reads into the slots named by the batch and stops at EAGAIN', () => {
    const fd = fifo();
    const buffer = new ArrayBuffer(256);
    const offsets = new Int32Array([0, 64, 128, 192]);
    const lengths = new Int32Array(4).fill(-1);
    const slots = new Int32Array([2, 0]);
    expect(addon.tunReadBatch(fd, buffer, offsets, lengths, slots, 2, 64)).toBe(0); // nothing yet: EAGAIN
    writeSync(fd, Buffer.from('hello'));
    expect(addon.tunReadBatch(fd, buffer, offsets, lengths, slots, 2, 64)).toBe(1);
    expect(lengths[2]).toBe(5);
    expect(lengths[0]).toBe(-1);
    expect(Buffer.from(buffer, 128, 5).toString()).toBe('hello');
  });

  it('returns -EINVAL instead of reading or writing outside the buffer, -errno for a bad fd', () => {
    const buffer = new ArrayBuffer(256);
    const offsets = new Int32Array([0, 200, -1]);
    const lengths = new Int32Array([10, 10, 10]);
    const status = new Int32Array(3);
    expect(addon.tunReadBatch(-1, buffer, offsets, lengths, new Int32Array([1]), 1, 64)).toBe(-22); // 200 + 64 > 256
    expect(addon.tunReadBatch(-1, buffer, offsets, lengths, new Int32Array([2]), 1, 64)).toBe(-22); // negative offset
    expect(addon.tunReadBatch(-1, buffer, offsets, lengths, new Int32Array([3]), 1, 64)).toBe(-22); // no such slot
    expect(addon.tunReadBatch(-1, buffer, offsets, lengths, new Int32Array([0]), 2, 64)).toBe(-22); // count > slots
    expect(addon.tunReadBatch(-1, buffer, offsets, lengths, new Int32Array([0]), 1, 64)).toBe(-9); // EBADF
    lengths[0] = 300;
    expect(addon.tunWriteBatch(-1, buffer, offsets, lengths, new Int32Array([0]), 1, status)).toBe(0);
    expect(Array.from(status)).toEqual([1, 22, 0]);
    lengths[0] = 10;
    expect(addon.tunWriteBatch(-1, buffer, offsets, lengths, new Int32Array([0, 1]), 2, status)).toBe(0);
    expect(Array.from(status)).toEqual([2, 9, 0]); // both skipped, last errno EBADF
  });

  it('writes every packet of a batch and reports the bytes', () => {
    const fd = fifo();
    const buffer = new ArrayBuffer(128);
    new Uint8Array(buffer).set(Buffer.from('abcdefgh'), 10);
    const status = new Int32Array(3);
    const offsets = new Int32Array([10, 14]);
    const lengths = new Int32Array([4, 4]);
    expect(addon.tunWriteBatch(fd, buffer, offsets, lengths, new Int32Array([1, 0]), 2, status)).toBe(2);
    expect(Array.from(status)).toEqual([0, 0, 8]);
    const out = new ArrayBuffer(16);
    const len = new Int32Array(1);
    expect(addon.tunReadBatch(fd, out, new Int32Array([0]), len, new Int32Array([0]), 1, 16)).toBe(1);
    expect(Buffer.from(out, 0, len[0]).toString()).toBe('efghabcd');
  });

  it('throws TypeError for arguments of the wrong type', () => {
    const b = new ArrayBuffer(8);
    const i = new Int32Array(1);
    expect(() => addon.tunReadBatch(0, b, new Uint32Array(1) as unknown as Int32Array, i, i, 1, 8)).toThrow(TypeError);
    expect(() => addon.tunReadBatch(0, new Uint8Array(8) as unknown as ArrayBuffer, i, i, i, 1, 8)).toThrow(TypeError);
    expect(() => addon.tunWriteBatch(0, b, i, i, i, 1, new Int32Array(1))).toThrow(RangeError);
    expect(() => addon.pollStop({} as never)).toThrow(TypeError);
    expect(() => addon.pollStart(0, 'nope' as never)).toThrow(TypeError);
  });

  it('moves the calling thread to SCHED_RR and back (in a child: never the test runner), or reports -EPERM', () => {
    const r = child(`
      const o = new Int32Array(2);
      const set = addon.schedSetRealtime(3);
      addon.schedGet(o);
      const rr = o.join();
      addon.schedSetRealtime(0);
      addon.schedGet(o);
      console.log(JSON.stringify({ set, rr, after: o.join() }));
    `);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { set: number; rr: string; after: string };
    // As root (CI) the kernel grants it; elsewhere it refuses with EPERM and nothing changes.
    if (out.set === 0) expect(out.rr).toBe('2,3');
    else expect(out).toEqual({ set: -1, rr: '0,0', after: '0,0' });
    expect(out.after).toBe('0,0');
    expect(() => addon.schedSetRealtime(100)).toThrow(RangeError);
    expect(() => addon.schedSetRealtime(-1)).toThrow(RangeError);
    expect(() => addon.schedSetRealtime('10' as never)).toThrow(TypeError);
    expect(() => addon.schedGet(new Int32Array(1))).toThrow(RangeError);
  });

  it('calls back on the event loop when the fd is readable, and pollStop can be called twice', async () => {
    const fd = fifo();
    let calls = 0;
    const buffer = new ArrayBuffer(64);
    const drain = () => addon.tunReadBatch(fd, buffer, new Int32Array([0]), new Int32Array(1), new Int32Array([0]), 1, 64);
    let wake: () => void = () => {};
    const handle = addon.pollStart(fd, () => {
      calls++;
      drain();
      wake();
    });
    await new Promise<void>((resolve) => {
      wake = resolve;
      writeSync(fd, 'x');
    });
    expect(calls).toBe(1);
    addon.pollStop(handle);
    addon.pollStop(handle);
    writeSync(fd, 'y');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(calls).toBe(1);
  });

  it('surfaces an exception thrown by the poll callback as an uncaught exception', () => {
    const fatal = child(`
      const fd = fifo();
      addon.pollStart(fd, () => { throw new Error('boom from poll'); });
      fs.writeSync(fd, 'x');
    `);
    expect(fatal.status).toBe(1);
    expect(fatal.stderr).toContain('boom from poll');

    const handled = child(`
      const fd = fifo();
      let h;
      process.on('uncaughtException', (e) => { console.log('caught ' + e.message); addon.pollStop(h); });
      h = addon.pollStart(fd, () => { throw new Error('boom'); });
      fs.writeSync(fd, 'x');
    `);
    expect(handled.stderr).toBe('');
    expect(handled.status).toBe(0);
    expect(handled.stdout).toBe('caught boom\n');
  });

  it('runs process.nextTick and microtasks queued by the callback right after it', () => {
    const r = child(`
      const fd = fifo();
      const order = [];
      const h = addon.pollStart(fd, () => {
        order.push('cb');
        process.nextTick(() => order.push('tick'));
        queueMicrotask(() => order.push('micro'));
        addon.pollStop(h);
        setImmediate(() => console.log(order.join(',')));
      });
      fs.writeSync(fd, 'x');
    `);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('cb,tick,micro\n');
  });

  it('closes active polls without crashing when a worker is terminated or the process exits', () => {
    const r = child(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(${JSON.stringify(`
        const addon = require(${JSON.stringify(ADDON)});
        const fs = require('node:fs');
        const { execFileSync } = require('node:child_process');
        const open = (name) => {
          const p = ${JSON.stringify(dir)} + '/' + name + process.pid;
          execFileSync('mkfifo', [p]);
          return fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
        };
        addon.pollStart(open('idle'), () => {});
        // Never drained: level-triggered, so this one fires on every loop turn.
        const busy = open('busy');
        fs.writeSync(busy, 'x');
        let fired = 0;
        addon.pollStart(busy, () => {
          if (++fired === 3) require('node:worker_threads').parentPort.postMessage('polling');
        });
      `)}, { eval: true });
      w.on('message', async () => {
        await w.terminate();
        console.log('terminated');
        const fd = fifo();
        addon.pollStart(fd, () => {});
        setTimeout(() => process.exit(0), 20);
      });
    `);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('terminated\n');
    expect(r.status).toBe(0);
  });

  it('stops a poll whose handle was garbage-collected, so the process can exit', () => {
    const r = child(
      `
      const fd = fifo();
      let calls = 0;
      (() => { addon.pollStart(fd, () => calls++); })();
      globalThis.gc();
      setImmediate(() => {
        globalThis.gc();
        setImmediate(() => fs.writeSync(fd, 'x'));
      });
      process.on('exit', () => console.log('calls ' + calls));
    `,
      ['--expose-gc'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('calls 0\n');
    expect(r.status).toBe(0);
  });
});
