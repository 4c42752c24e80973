/** TXID formatting and LTX file names (`%016x-%016x.ltx`, lowercase only). */

import { WalshipError } from "../util/errors.ts";

const MAX_TXID = 0xffffffffffffffffn;
const TXID_PATTERN = /^[0-9a-fA-F]{16}$/;
const LTX_NAME_PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

/** Formats a TXID as 16 lowercase hex digits. */
export function formatTxid(txid: bigint): string {
  if (txid < 0n || txid > MAX_TXID) throw new RangeError(`Cannot format TXID ${txid}: out of u64 range`);
  return txid.toString(16).padStart(16, "0");
}

/** Parses exactly 16 lowercase hex digits into a TXID. */
export function parseTxid(text: string): bigint {
  if (!TXID_PATTERN.test(text)) throw new WalshipError(`Invalid TXID "${text}": expected 16 hex digits`);
  return BigInt("0x" + text);
}

/** The LTX file name covering `minTxid..maxTxid`. */
export function ltxFileName(minTxid: bigint, maxTxid: bigint): string {
  return `${formatTxid(minTxid)}-${formatTxid(maxTxid)}.ltx`;
}

/** Parses an LTX file name; returns null for anything but `^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$`. */
export function parseLtxFileName(name: string): { minTxid: bigint; maxTxid: bigint } | null {
  const match = LTX_NAME_PATTERN.exec(name);
  if (match === null) return null;
  return { minTxid: BigInt("0x" + match[1]), maxTxid: BigInt("0x" + match[2]) };
}
