/** Slicing-by-16 tables of CRC-64/ISO (reflected 0xD800000000000000) as u32 halves; private to lib/ltx. */

export const CRC_SLICES = 16;
/** Low and high halves of table k entry n at index k*256+n; table 0 is the classic byte table. */
export const CRC_TABLE_LO = new Uint32Array(256 * CRC_SLICES);
export const CRC_TABLE_HI = new Uint32Array(256 * CRC_SLICES);

for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) hi = (hi ^ 0xd8000000) >>> 0;
  }
  CRC_TABLE_LO[n] = lo;
  CRC_TABLE_HI[n] = hi;
}
for (let s = 1; s < CRC_SLICES; s++) {
  for (let n = 0; n < 256; n++) {
    const lo = CRC_TABLE_LO[(s - 1) * 256 + n]!;
    const hi = CRC_TABLE_HI[(s - 1) * 256 + n]!;
    const i = lo & 0xff;
    CRC_TABLE_LO[s * 256 + n] = (CRC_TABLE_LO[i]! ^ ((lo >>> 8) | (hi << 24))) >>> 0;
    CRC_TABLE_HI[s * 256 + n] = (CRC_TABLE_HI[i]! ^ (hi >>> 8)) >>> 0;
  }
}
