/**
 * CRC-64/ISO exactly as Go's `hash/crc64` with the ISO table (reflected polynomial 0xD800000000000000,
 * init and final XOR all ones), and the LTX page checksum built on it (spec §3.5, §3.6, pitfall 17).
 *
 * Inputs of 64 bytes or more go through the WebAssembly kernel (slicing by 16, about 1.8 GB/s on
 * kernel output and 1.4 GB/s with the copy in, against 1.3 GB/s for the JS loop); shorter ones
 * through the JS loop.
 */

import { crcUpdateJs } from "./_crc_js.ts";
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

  /** The CRC of everything fed so far; the state is left as is. */
  digest(): bigint {
    return (BigInt((~this.#state.hi) >>> 0) << 32n) | BigInt((~this.#state.lo) >>> 0);
  }
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
