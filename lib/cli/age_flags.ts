/**
 * The age key flags of `restore`, `ltx` and `snapshot`, and their environment variables. For a replica
 * URL the flags win, else the environment is read; for a replica from the config file, the config's
 * `age:` applies and the flags add to it (the environment does not: the config says which replicas are
 * encrypted, and one secret in the environment must not make a plaintext replica unreadable).
 */
import {
  type AgeKeys,
  loadAge,
  parseIdentities,
  passphraseFromFile,
  readKeyFileSync,
} from "../config/age_keys.ts";
import type { ReplicaSpec } from "../config/replica_url.ts";

export const AGE_FLAGS = {
  "age-identity-file": {
    type: "string",
    valueName: "PATH",
    description: "age identities (age-keygen output) to decrypt with; env WALSHIP_AGE_IDENTITY_FILE",
  },
  "age-passphrase-file": {
    type: "string",
    valueName: "PATH",
    description: "file whose first line is the age passphrase; env WALSHIP_AGE_PASSPHRASE_FILE, " +
      "or the passphrase itself in WALSHIP_PASSPHRASE",
  },
} as const;

export interface AgeFlagValues {
  "age-identity-file"?: string;
  "age-passphrase-file"?: string;
}

/** Where the spec came from: a URL on the command line, or a replica of the config file. */
export type SpecSource = "url" | "config";

/** `spec` with the keys of the flags (and, for a URL, of the environment) added. */
export async function withAgeFlags(
  spec: ReplicaSpec,
  flags: AgeFlagValues,
  source: SpecSource,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<ReplicaSpec> {
  const given = source === "url"
    ? await keysFrom(
      flags["age-identity-file"] ?? env("WALSHIP_AGE_IDENTITY_FILE"),
      flags["age-passphrase-file"] ?? env("WALSHIP_AGE_PASSPHRASE_FILE"),
      env("WALSHIP_PASSPHRASE"),
    )
    : await keysFrom(flags["age-identity-file"], flags["age-passphrase-file"], undefined);
  if (!given) return spec;
  const age: AgeKeys = {
    recipients: spec.age?.recipients ?? [],
    identities: [...(spec.age?.identities ?? []), ...given.identities],
  };
  const passphrase = given.passphrase ?? spec.age?.passphrase;
  if (passphrase !== undefined) age.passphrase = passphrase;
  return { ...spec, age };
}

async function keysFrom(
  identityFile: string | undefined,
  passphraseFile: string | undefined,
  passphrase: string | undefined,
): Promise<AgeKeys | undefined> {
  const keys: AgeKeys = { recipients: [], identities: [] };
  if (identityFile) {
    await loadAge();
    keys.identities = parseIdentities(
      readKeyFileSync(identityFile, "identity file"),
      `age identity file "${identityFile}"`,
    );
  }
  if (passphraseFile) {
    keys.passphrase = passphraseFromFile(
      readKeyFileSync(passphraseFile, "passphrase file"),
      `age passphrase file "${passphraseFile}"`,
    );
  } else if (passphrase) {
    keys.passphrase = passphrase;
  }
  return keys.identities.length > 0 || keys.passphrase !== undefined ? keys : undefined;
}
