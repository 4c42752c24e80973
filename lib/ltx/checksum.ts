/**
 * CRC-64/ISO exactly as Go's `hash/crc64` with the ISO table (reflected polynomial 0xD800000000000000,
 * init and final XOR all ones), and the LTX page checksum built on it (spec §3.5, §3.6, pitfall 17).
 *
 * Inputs of 64 bytes or more go through the WebAssembly kernel (slicing by 16, about 1.8 GB/s on
 * kernel output and 1.4 GB/s with the copy in, against 1.3 GB/s for the JS loop); shorter ones
 * through the JS loop.
 */

import { crcUpdateJs } from "./_crc_js.ts";
import { CRC_TABLE_HI, CRC_TABLE_LO } from "./_crc_tables.ts";
import { type CrcState, kernelCrc } from "./_kernels.ts";

/** Bit 63, set on every stored LTX checksum. */
export const CHECKSUM_FLAG = 1n << 63n;

const KERNEL_MIN_LENGTH = 64;

/** Incremental CRC-64/ISO; `digest()` is the raw CRC (no bit 63 added). */
export class Crc64 {
  // Inverted running state, as the table loops want it.
  readonly #state: CrcState = { lo: 0xffffffff, hi: 0xffffffff };

  /** Feeds more bytes. */
  update(bytes: Uint8Array): void {
    if (bytes.length >= KERNEL_MIN_LENGTH) kernelCrc(this.#state, bytes);
    else crcUpdateJs(this.#state, bytes);
  }

  /**
   * Feeds `length` bytes whose own CRC-64 is `crc` (as from `crcOf`), without the bytes: CRCs combine
   * linearly, so one pass over a page serves both the file checksum and the page checksum.
   */
  append(crc: CrcState, length: number): void {
    appendCrc(this.#state, crc, length);
  }

  /** The CRC of everything fed so far; the state is left as is. */
  digest(): bigint {
    return (BigInt((~this.#state.hi) >>> 0) << 32n) | BigInt((~this.#state.lo) >>> 0);
  }
}

/** CRC-64/ISO of `bytes` as u32 halves (no bit 63 added), for `Crc64.append` and `pageChecksumOf`. */
export function crcOf(bytes: Uint8Array): CrcState {
  const state = { lo: 0xffffffff, hi: 0xffffffff };
  if (bytes.length >= KERNEL_MIN_LENGTH) kernelCrc(state, bytes);
  else crcUpdateJs(state, bytes);
  state.lo = ~state.lo >>> 0;
  state.hi = ~state.hi >>> 0;
  return state;
}

/**
 * Tables of the linear map "append n zero bytes to a raw CRC register", one 256-entry table per byte
 * of the register, so applying it costs 8 lookups instead of n table steps. Built once per length.
 */
const zeroShifts = new Map<number, { lo: Uint32Array; hi: Uint32Array }>();

function zeroShiftTables(length: number): { lo: Uint32Array; hi: Uint32Array } {
  let tables = zeroShifts.get(length);
  if (tables) return tables;
  tables = { lo: new Uint32Array(8 * 256), hi: new Uint32Array(8 * 256) };
  // The image of each of the 64 basis bits, then every byte value of each byte lane as XORs of them.
  for (let bit = 0; bit < 64; bit++) {
    let lo = bit < 32 ? (1 << bit) >>> 0 : 0;
    let hi = bit < 32 ? 0 : (1 << (bit - 32)) >>> 0;
    for (let i = 0; i < length; i++) {
      const k = lo & 0xff;
      lo = (CRC_TABLE_LO[k]! ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      hi = (CRC_TABLE_HI[k]! ^ (hi >>> 8)) >>> 0;
    }
    const lane = bit >> 3;
    const value = 1 << (bit & 7);
    tables.lo[lane * 256 + value] = lo;
    tables.hi[lane * 256 + value] = hi;
  }
  for (let lane = 0; lane < 8; lane++) {
    const base = lane * 256;
    for (let v = 3; v < 256; v++) {
      const low = v & -v;
      if (low === v) continue;
      tables.lo[base + v] = tables.lo[base + low]! ^ tables.lo[base + (v ^ low)]!;
      tables.hi[base + v] = tables.hi[base + low]! ^ tables.hi[base + (v ^ low)]!;
    }
  }
  zeroShifts.set(length, tables);
  return tables;
}

/**
 * Continues a raw register (inverted CRC state) by `length` bytes whose CRC is `crc`: the register of
 * A‖B is "append length zeros" applied to crc(A) = ~register(A), XORed with register(B) = ~crc(B).
 */
function appendCrc(state: CrcState, crc: CrcState, length: number): void {
  const { lo: tl, hi: th } = zeroShiftTables(length);
  const a = ~state.lo >>> 0;
  const b = ~state.hi >>> 0;
  const i0 = a & 0xff, i1 = 256 + ((a >>> 8) & 0xff), i2 = 512 + ((a >>> 16) & 0xff), i3 = 768 + (a >>> 24);
  const i4 = 1024 + (b & 0xff), i5 = 1280 + ((b >>> 8) & 0xff), i6 = 1536 + ((b >>> 16) & 0xff);
  const i7 = 1792 + (b >>> 24);
  state.lo = (tl[i0]! ^ tl[i1]! ^ tl[i2]! ^ tl[i3]! ^ tl[i4]! ^ tl[i5]! ^ tl[i6]! ^ tl[i7]! ^ ~crc.lo) >>> 0;
  state.hi = (th[i0]! ^ th[i1]! ^ th[i2]! ^ th[i3]! ^ th[i4]! ^ th[i5]! ^ th[i6]! ^ th[i7]! ^ ~crc.hi) >>> 0;
}

/** CRC-64/ISO of `bytes`; `crc64("123456789") === 0xb90956c775a41001n`. */
export function crc64(bytes: Uint8Array): bigint {
  const crc = new Crc64();
  crc.update(bytes);
  return crc.digest();
}

const pgnoBytes = new Uint8Array(4);

/** LTX page checksum: `(1 << 63) | crc64(pgno as u32 BE ‖ data)`. */
export function pageChecksum(pgno: number, data: Uint8Array): bigint {
  pgnoBytes[0] = pgno >>> 24;
  pgnoBytes[1] = (pgno >>> 16) & 0xff;
  pgnoBytes[2] = (pgno >>> 8) & 0xff;
  pgnoBytes[3] = pgno & 0xff;
  const crc = new Crc64();
  crc.update(pgnoBytes);
  crc.update(data);
  return CHECKSUM_FLAG | crc.digest();
}

/**
 * The LTX page checksum as u32 halves (bit 63 not set) from the CRC of the page data alone
 * (`dataCrc = crcOf(data)`): the same value as `pageChecksum`, without a second pass over the page.
 */
export function pageChecksumOf(pgno: number, dataCrc: CrcState, pageSize: number): CrcState {
  pgnoBytes[0] = pgno >>> 24;
  pgnoBytes[1] = (pgno >>> 16) & 0xff;
  pgnoBytes[2] = (pgno >>> 8) & 0xff;
  pgnoBytes[3] = pgno & 0xff;
  const state = { lo: 0xffffffff, hi: 0xffffffff };
  crcUpdateJs(state, pgnoBytes);
  appendCrc(state, dataCrc, pageSize);
  state.lo = ~state.lo >>> 0;
  state.hi = ~state.hi >>> 0;
  return state;
}
