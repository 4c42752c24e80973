/**
 * The @azure/storage-blob client for a resolved connection. Loaded on a store's first call, so commands
 * that use no Azure replica do not pay for the SDKs' import (about 170 ms).
 */
import {
  AnonymousCredential,
  type BlobClient,
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import type { DefaultAzureCredential } from "@azure/identity";
import type { AbsConnection } from "./abs_auth.ts";
import { nativeFetchTrustsTheSameCAs } from "./native_fetch.ts";

/** The blob service client for a resolved connection; @azure/identity (8 MiB) loads only for token credentials. */
export async function serviceClient(
  connection: AbsConnection,
  tokenTimeoutMs: number,
): Promise<BlobServiceClient> {
  const options = {
    // A little SDK retry for one request; the store-wide retry decorator does the rest.
    retryOptions: { maxTries: 3, retryDelayInMs: 250, maxRetryDelayInMs: 2000, tryTimeoutInMs: 5 * 60_000 },
    userAgentOptions: { userAgentPrefix: "walship" },
  };
  const { auth, endpoint } = connection;
  switch (auth.method) {
    case "sas":
      return new BlobServiceClient(`${endpoint}?${auth.sasToken}`, new AnonymousCredential(), options);
    case "shared-key":
      return new BlobServiceClient(
        endpoint,
        new StorageSharedKeyCredential(auth.accountName, auth.accountKey),
        options,
      );
    case "default": {
      const { DefaultAzureCredential } = await import("@azure/identity");
      const credential = new DefaultAzureCredential({ disableInstanceDiscovery: auth.customAuthority });
      return new BlobServiceClient(endpoint, withTokenTimeout(credential, tokenTimeoutMs), options);
    }
  }
}

type TokenCredential = Pick<DefaultAzureCredential, "getToken">;

/** A managed-identity endpoint that accepts connections but never answers would hang the chain for ever. */
function withTokenTimeout(credential: TokenCredential, timeoutMs: number): TokenCredential {
  return {
    getToken(scopes, options) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const err = new Error(`no token within ${timeoutMs / 1000}s`);
          err.name = "TokenTimeoutError";
          reject(err);
        }, timeoutMs);
        credential.getToken(scopes, options).then(resolve, reject).finally(() => clearTimeout(timer));
      });
    },
  };
}

/**
 * A URL that reads `blob` by itself, for a plain fetch: the blob's own with a SAS connection, a read-only
 * SAS signed here (one hour) with an account key; undefined for token credentials and where fetch may
 * not trust the same certificates (native_fetch.ts).
 */
export async function readUrl(blob: BlobClient, connection: AbsConnection): Promise<string | undefined> {
  if (!nativeFetchTrustsTheSameCAs(connection.endpoint)) return undefined;
  switch (connection.auth.method) {
    case "sas":
      return blob.url;
    case "shared-key":
      return await blob.generateSasUrl({
        permissions: BlobSASPermissions.parse("r"),
        expiresOn: new Date(Date.now() + 3600_000),
      });
    case "default":
      return undefined;
  }
}
