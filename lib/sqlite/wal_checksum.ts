/** SQLite's WAL checksum (a Fletcher-like sum over u32 pairs), see spec §1.5. */

/** Whether this machine stores a u32 little-endian (true on x86 and ARM). */
const IS_HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Continues the running WAL checksum `(s0, s1)` over `data`, whose words are read big-endian when
 * `bigEndian` is set (magic `0x377f0683`) and little-endian otherwise (magic `0x377f0682`).
 * @throws {RangeError} when `data.length` is not a multiple of 8
 */
export function walChecksum(data: Uint8Array, bigEndian: boolean, s0: number, s1: number): [number, number] {
  const n = data.length;
  if (n % 8 !== 0) throw new RangeError(`WAL checksum input length ${n} is not a multiple of 8`);
  // `| 0` keeps the sums in int32 registers; wrapping is the same modulo 2^32.
  let a = s0 | 0;
  let b = s1 | 0;
  if (bigEndian) {
    for (let i = 0; i < n; i += 8) {
      a = (a + ((data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!) + b) | 0;
      b = (b + ((data[i + 4]! << 24) | (data[i + 5]! << 16) | (data[i + 6]! << 8) | data[i + 7]!) + a) | 0;
    }
  } else {
    for (let i = 0; i < n; i += 8) {
      a = (a + (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) + b) | 0;
      b = (b + (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) + a) | 0;
    }
  }
  return [a >>> 0, b >>> 0];
}

/**
 * Continues the checksum held in `state` (two u32 values, updated in place) over the native-order
 * words `words[start..end)`; `end - start` must be even. The hot-path variant of `walChecksum` for
 * callers that already hold a word view of an 8-byte-aligned buffer.
 */
export function walChecksumWords(
  words: Int32Array,
  start: number,
  end: number,
  bigEndian: boolean,
  state: Uint32Array,
): void {
  let a = state[0]! | 0;
  let b = state[1]! | 0;
  if (bigEndian === IS_HOST_LITTLE_ENDIAN) {
    for (let j = start; j < end; j += 2) {
      const x = words[j]!;
      const y = words[j + 1]!;
      a = (a + ((x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) + b) | 0;
      b = (b + ((y << 24) | ((y & 0xff00) << 8) | ((y >>> 8) & 0xff00) | (y >>> 24)) + a) | 0;
    }
  } else {
    for (let j = start; j < end; j += 2) {
      a = (a + words[j]! + b) | 0;
      b = (b + words[j + 1]! + a) | 0;
    }
  }
  state[0] = a;
  state[1] = b;
}
