/**
 * CRC-64/ISO exactly as Go's `hash/crc64` with the ISO table (reflected polynomial 0xD800000000000000,
 * init and final XOR all ones), and the LTX page checksum built on it (spec §3.5, §3.6).
 *
 * The 64-bit state is kept as two u32 halves and updated with slicing-by-16 tables: BigInt per byte
 * is far too slow for restore (spec pitfall 17).
 */

const SLICES = 16;
const TABLE_LO = new Uint32Array(256 * SLICES);
const TABLE_HI = new Uint32Array(256 * SLICES);
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function buildTables(): void {
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) hi = (hi ^ 0xd8000000) >>> 0;
    }
    TABLE_LO[n] = lo;
    TABLE_HI[n] = hi;
  }
  for (let s = 1; s < SLICES; s++) {
    for (let n = 0; n < 256; n++) {
      const lo = TABLE_LO[(s - 1) * 256 + n]!;
      const hi = TABLE_HI[(s - 1) * 256 + n]!;
      const i = lo & 0xff;
      TABLE_LO[s * 256 + n] = (TABLE_LO[i]! ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      TABLE_HI[s * 256 + n] = (TABLE_HI[i]! ^ (hi >>> 8)) >>> 0;
    }
  }
}
buildTables();

/** Bit 63, set on every stored LTX checksum. */
export const CHECKSUM_FLAG = 1n << 63n;

/** Incremental CRC-64/ISO; `digest()` is the raw CRC (no bit 63 added). */
export class Crc64 {
  // Inverted running state, as the table loop wants it.
  #lo = 0xffffffff;
  #hi = 0xffffffff;

  /** Feeds more bytes. */
  update(bytes: Uint8Array): void {
    const state = updateState(this.#lo, this.#hi, bytes);
    this.#lo = state.lo;
    this.#hi = state.hi;
  }

  /** The CRC of everything fed so far; the state is left as is. */
  digest(): bigint {
    return (BigInt((~this.#hi) >>> 0) << 32n) | BigInt((~this.#lo) >>> 0);
  }
}

const scratch = { lo: 0, hi: 0 };

/** Slicing-by-16 over four u32 words: bytes 0..7 are xored into the state, 8..15 are not. */
function updateState(lo: number, hi: number, p: Uint8Array): { lo: number; hi: number } {
  const tl = TABLE_LO;
  const th = TABLE_HI;
  const n = p.length;
  const blocks = n >>> 4;
  let i = 0;
  if (blocks > 0 && IS_LITTLE_ENDIAN && (p.byteOffset & 3) === 0) {
    const w = new Uint32Array(p.buffer, p.byteOffset, blocks * 4);
    for (let j = 0; j < w.length; j += 4) {
      const a = lo ^ w[j]!, b = hi ^ w[j + 1]!, c = w[j + 2]!, d = w[j + 3]!;
      const i15 = 3840 + (a & 0xff), i14 = 3584 + ((a >>> 8) & 0xff);
      const i13 = 3328 + ((a >>> 16) & 0xff), i12 = 3072 + (a >>> 24);
      const i11 = 2816 + (b & 0xff), i10 = 2560 + ((b >>> 8) & 0xff);
      const i9 = 2304 + ((b >>> 16) & 0xff), i8 = 2048 + (b >>> 24);
      const i7 = 1792 + (c & 0xff), i6 = 1536 + ((c >>> 8) & 0xff);
      const i5 = 1280 + ((c >>> 16) & 0xff), i4 = 1024 + (c >>> 24);
      const i3 = 768 + (d & 0xff), i2 = 512 + ((d >>> 8) & 0xff);
      const i1 = 256 + ((d >>> 16) & 0xff), i0 = d >>> 24;
      lo = tl[i15]! ^ tl[i14]! ^ tl[i13]! ^ tl[i12]! ^ tl[i11]! ^ tl[i10]! ^ tl[i9]! ^ tl[i8]! ^
        tl[i7]! ^ tl[i6]! ^ tl[i5]! ^ tl[i4]! ^ tl[i3]! ^ tl[i2]! ^ tl[i1]! ^ tl[i0]!;
      hi = th[i15]! ^ th[i14]! ^ th[i13]! ^ th[i12]! ^ th[i11]! ^ th[i10]! ^ th[i9]! ^ th[i8]! ^
        th[i7]! ^ th[i6]! ^ th[i5]! ^ th[i4]! ^ th[i3]! ^ th[i2]! ^ th[i1]! ^ th[i0]!;
    }
    i = blocks * 16;
  } else {
    for (; i + 8 <= n; i += 8) {
      const a = lo ^ (p[i]! | (p[i + 1]! << 8) | (p[i + 2]! << 16) | (p[i + 3]! << 24));
      const b = hi ^ (p[i + 4]! | (p[i + 5]! << 8) | (p[i + 6]! << 16) | (p[i + 7]! << 24));
      const i7 = 1792 + (a & 0xff), i6 = 1536 + ((a >>> 8) & 0xff);
      const i5 = 1280 + ((a >>> 16) & 0xff), i4 = 1024 + (a >>> 24);
      const i3 = 768 + (b & 0xff), i2 = 512 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff), i0 = b >>> 24;
      lo = tl[i7]! ^ tl[i6]! ^ tl[i5]! ^ tl[i4]! ^ tl[i3]! ^ tl[i2]! ^ tl[i1]! ^ tl[i0]!;
      hi = th[i7]! ^ th[i6]! ^ th[i5]! ^ th[i4]! ^ th[i3]! ^ th[i2]! ^ th[i1]! ^ th[i0]!;
    }
  }
  for (; i < n; i++) {
    const k = (lo ^ p[i]!) & 0xff;
    lo = tl[k]! ^ ((lo >>> 8) | (hi << 24));
    hi = th[k]! ^ (hi >>> 8);
  }
  scratch.lo = lo >>> 0;
  scratch.hi = hi >>> 0;
  return scratch;
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
