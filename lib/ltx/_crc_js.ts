/** CRC-64/ISO in plain JS, slicing by 16 over u32 halves; private to lib/ltx (small inputs, benchmarks). */

import { CRC_TABLE_HI, CRC_TABLE_LO } from "./_crc_tables.ts";
import type { CrcState } from "./_kernels.ts";

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Continues the inverted CRC-64 state over `p`, in place. */
export function crcUpdateJs(state: CrcState, p: Uint8Array): void {
  const tl = CRC_TABLE_LO;
  const th = CRC_TABLE_HI;
  let lo = state.lo;
  let hi = state.hi;
  const n = p.length;
  let i = 0;
  if (n >= 16 && IS_LITTLE_ENDIAN && (p.byteOffset & 3) === 0) {
    const w = new Uint32Array(p.buffer, p.byteOffset, (n >>> 4) * 4);
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
    i = w.length * 4;
  }
  for (; i < n; i++) {
    const k = (lo ^ p[i]!) & 0xff;
    lo = tl[k]! ^ ((lo >>> 8) | (hi << 24));
    hi = th[k]! ^ (hi >>> 8);
  }
  state.lo = lo >>> 0;
  state.hi = hi >>> 0;
}
