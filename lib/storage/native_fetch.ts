/**
 * Whether downloads from `endpoint` may go through Deno's native fetch instead of an SDK's node:http.
 * fetch trusts Deno's root store (DENO_TLS_CA_STORE) and DENO_CERT; only node:https reads
 * NODE_EXTRA_CA_CERTS: where it is set and the endpoint speaks TLS, a private CA may be in it, so the SDK
 * keeps the downloads. Plain http (a local MinIO or Azurite) has no certificate to trust.
 */
export function nativeFetchTrustsTheSameCAs(endpoint: string | undefined): boolean {
  if (endpoint?.toLowerCase().startsWith("http://")) return true;
  try {
    return !Deno.env.get("NODE_EXTRA_CA_CERTS");
  } catch {
    return false; // no env permission: cannot tell, keep the SDK
  }
}
