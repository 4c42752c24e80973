/**
 * Which endpoint and credential an abs:// replica uses, from its spec and an environment object, in
 * Litestream's order (SAS token, shared key, then DefaultAzureCredential); and one-line reasons when
 * Azure AD sign-in fails. Nothing here ever puts a key or token into a message.
 */
import type { AbsSpec } from "../config/abs_url.ts";
import { UsageError } from "../util/errors.ts";

export type AbsAuth =
  | { method: "sas"; sasToken: string; source: string }
  | { method: "shared-key"; accountName: string; accountKey: string; source: string }
  /** `customAuthority`: AZURE_AUTHORITY_HOST names a private cloud, which MSAL cannot look up publicly. */
  | { method: "default"; customAuthority: boolean };

export interface AbsConnection {
  /** Blob service URL without a query. */
  endpoint: string;
  accountName?: string;
  auth: AbsAuth;
}

const SAS_TOKEN_VARS = ["LITESTREAM_AZURE_SAS_TOKEN"];
/** Litestream's, the Azure CLI's and Stash's names for the account key, in that order. */
const ACCOUNT_KEY_VARS = ["LITESTREAM_AZURE_ACCOUNT_KEY", "AZURE_STORAGE_KEY", "AZURE_ACCOUNT_KEY"];
const ACCOUNT_NAME_VARS = ["AZURE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"];
const PUBLIC_AUTHORITY_HOSTS = new Set([
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login.microsoftonline.de",
]);

/**
 * @throws UsageError when there is neither an account nor an endpoint, a key without an account, or
 * nothing but Azure AD sign-in for an http endpoint.
 */
export function resolveAbsConnection(
  spec: AbsSpec,
  env: Record<string, string | undefined>,
): AbsConnection {
  const first = (names: string[]) => {
    for (const name of names) if (env[name]) return { name, value: env[name]! };
    return undefined;
  };
  const replica = `abs://${spec.accountName ? `${spec.accountName}@` : ""}${spec.container}`;
  const accountName = spec.accountName ?? first(ACCOUNT_NAME_VARS)?.value ??
    (spec.endpoint ? accountFromEndpoint(spec.endpoint) : undefined);
  if (!spec.endpoint && !accountName) {
    throw new UsageError(`Replica ${replica} names no storage account and no endpoint`, {
      hint: "write abs://ACCOUNT@CONTAINER/PATH, set AZURE_STORAGE_ACCOUNT, or give an endpoint",
    });
  }
  const connection = (auth: AbsAuth): AbsConnection => ({
    endpoint: spec.endpoint ?? `https://${accountName}.blob.core.windows.net`,
    ...(accountName ? { accountName } : {}),
    auth,
  });

  const sas = spec.sasToken ? { name: "sas-token", value: spec.sasToken } : first(SAS_TOKEN_VARS);
  if (sas) return connection({ method: "sas", sasToken: sas.value.replace(/^\?/, ""), source: sas.name });

  const key = spec.accountKey ? { name: "account-key", value: spec.accountKey } : first(ACCOUNT_KEY_VARS);
  if (key) {
    if (!accountName) {
      throw new UsageError(`Replica ${replica} has an account key (${key.name}) but no account name`, {
        hint: "write abs://ACCOUNT@CONTAINER/PATH or set AZURE_ACCOUNT_NAME",
      });
    }
    return connection({ method: "shared-key", accountName, accountKey: key.value, source: key.name });
  }

  const authority = env.AZURE_AUTHORITY_HOST;
  const customAuthority = !!authority && !PUBLIC_AUTHORITY_HOSTS.has(hostOf(authority));
  const signedIn = connection({ method: "default", customAuthority });
  // The SDK refuses bearer tokens over http; say so now rather than on the first request.
  if (!signedIn.endpoint.startsWith("https://")) {
    throw new UsageError(`Replica ${replica} has no key or SAS token, and Azure AD needs https`, {
      hint:
        `for Azurite or another http endpoint (${signedIn.endpoint}), set LITESTREAM_AZURE_ACCOUNT_KEY or a sas-token`,
    });
  }
  return signedIn;
}

/** `https://ACCOUNT.blob.core.windows.net` or Azurite's `http://HOST:PORT/ACCOUNT`. */
function accountFromEndpoint(endpoint: string): string | undefined {
  const url = new URL(endpoint);
  const fromHost = /^([a-z0-9]+)\.blob\./.exec(url.hostname)?.[1];
  return fromHost ?? (/^\/([a-z0-9]+)(\/|$)/.exec(url.pathname)?.[1] || undefined);
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

const CREDENTIAL_ERRORS = new Set([
  "AggregateAuthenticationError",
  "AuthenticationError",
  "AuthenticationRequiredError",
  "CredentialUnavailableError",
  "TokenTimeoutError",
]);

/** Whether `err` came from getting an Azure AD token rather than from the blob service. */
export function isCredentialError(err: unknown): err is Error {
  return err instanceof Error && CREDENTIAL_ERRORS.has(err.name);
}

const NOTHING_SET = "no sas-token/LITESTREAM_AZURE_SAS_TOKEN, no account-key/" +
  `${ACCOUNT_KEY_VARS.join("/")}`;
const DEFAULT_HINT = "set LITESTREAM_AZURE_ACCOUNT_KEY (or a sas-token), run az login, or set " +
  "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal";

/** One line saying what was tried and why it failed, and what to do: for errors of isCredentialError. */
export function credentialProblem(err: Error): { reason: string; hint: string } {
  if (err.name === "TokenTimeoutError") {
    return {
      reason: `${NOTHING_SET}, and DefaultAzureCredential got ${err.message}`,
      hint: "check that the managed identity or token endpoint answers; or " + DEFAULT_HINT,
    };
  }
  if (err.name === "AuthenticationError") {
    const credential = /^(\w+Credential)/.exec(err.message)?.[1] ?? "DefaultAzureCredential";
    return {
      reason: `${NOTHING_SET}, and ${credential} failed: ${authenticationFailure(err)}`,
      hint: credential === "EnvironmentCredential"
        ? "check AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or use LITESTREAM_AZURE_ACCOUNT_KEY)"
        : DEFAULT_HINT,
    };
  }
  return {
    reason: `no Azure credential worked: ${NOTHING_SET}, and DefaultAzureCredential found none ` +
      "(tried environment service principal, workload identity, managed identity, Azure CLI, " +
      "Azure PowerShell, Azure Developer CLI)",
    hint: DEFAULT_HINT,
  };
}

/**
 * MSAL's answer in short. Its description reads "invalid_client: Error(s): 7000215 - Timestamp: … -
 * Description: AADSTS7000215: Invalid client secret provided. - Correlation ID: …".
 */
function authenticationFailure(err: Error): string {
  const description =
    (err as { errorResponse?: { errorDescription?: string } }).errorResponse?.errorDescription ?? "";
  const code = /^(\w+):/.exec(description)?.[1];
  if (!code) return firstLine(err.message);
  if (code === "endpoints_resolution_error") {
    return "cannot reach the Azure AD authority (endpoints_resolution_error)";
  }
  const detail = /Description: (.*?)(?: - Correlation ID|$)/.exec(description)?.[1];
  return detail ? `${code}: ${detail}` : firstLine(description);
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}
