/**
 * Whether downloads may go through Deno's native fetch instead of an SDK's node:http. Both trust the
 * system's roots and DENO_CERT, but only node:https reads NODE_EXTRA_CA_CERTS: where it is set, a private
 * CA may be in it, so the SDK keeps the downloads.
 */
export function nativeFetchTrustsTheSameCAs(): boolean {
  try {
    return !Deno.env.get("NODE_EXTRA_CA_CERTS");
  } catch {
    return false; // no env permission: cannot tell, keep the SDK
  }
}
