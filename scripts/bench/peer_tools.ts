/**
 * The replicators under comparison, told the same replica in each one's own terms: walship through its URLs
 * (tests/helpers/cli.ts permissions, loopback only), Litestream v0.3.13 through its config file (0.3.13
 * ignores URL query parameters, so an S3 endpoint or an Azure endpoint needs the file; test-servers.md §4).
 * Both get explicit local credentials, metadata lookups off, and an environment cleared of anything else.
 */
import { join } from "node:path";
import { walshipArgs } from "../../tests/helpers/cli.ts";
import { litestreamDecoder, type ReachDecoder, walshipDecoder } from "./replica_coverage.ts";

/** Where a replica lives, with the credentials to reach it. */
export type ReplicaSpec =
  | { kind: "file"; dir: string }
  | {
    kind: "s3";
    endpoint: string;
    bucket: string;
    path: string;
    accessKeyId: string;
    secretAccessKey: string;
  }
  | {
    kind: "abs";
    endpoint: string;
    accountName: string;
    accountKey: string;
    container: string;
    path: string;
  };

export interface CommandLine {
  cmd: string;
  args: string[];
  env: Record<string, string>;
}

export interface Tool {
  name: string;
  /** Runs until SIGTERM, replicating `dbPath` to `spec` every second. */
  replicate(dbPath: string, spec: ReplicaSpec, workDir: string): Promise<CommandLine>;
  /** Restores the latest state of `spec` into `out`. */
  restore(dbPath: string, spec: ReplicaSpec, out: string, workDir: string): Promise<CommandLine>;
  decoder(): ReachDecoder;
}

/** Only what the child processes need to run, plus metadata lookups switched off. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { AWS_EC2_METADATA_DISABLED: "true", NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "TMPDIR", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export function walshipTool(): Tool {
  const url = (spec: ReplicaSpec) => {
    switch (spec.kind) {
      case "file":
        return `file://${spec.dir}`;
      case "s3":
        return `s3://${spec.bucket}/${spec.path}?endpoint=${spec.endpoint}&forcePathStyle=true`;
      case "abs":
        return `abs://${spec.accountName}@${spec.container}/${spec.path}?endpoint=${spec.endpoint}`;
    }
  };
  const env = (spec: ReplicaSpec) => ({
    ...baseEnv(),
    ...(spec.kind === "s3"
      ? { AWS_ACCESS_KEY_ID: spec.accessKeyId, AWS_SECRET_ACCESS_KEY: spec.secretAccessKey }
      : {}),
    ...(spec.kind === "abs" ? { LITESTREAM_AZURE_ACCOUNT_KEY: spec.accountKey } : {}),
  });
  const line = (args: string[], spec: ReplicaSpec) => ({
    cmd: Deno.execPath(),
    args: walshipArgs(args),
    env: env(spec),
  });
  return {
    name: "walship",
    replicate: (dbPath, spec) =>
      Promise.resolve(line(["replicate", "-sync-interval", "1s", dbPath, url(spec)], spec)),
    restore: (_dbPath, spec, out) => Promise.resolve(line(["restore", "-o", out, url(spec)], spec)),
    decoder: walshipDecoder,
  };
}

export function litestreamTool(binary: string): Tool {
  const configFor = async (dbPath: string, spec: ReplicaSpec, file: string) => {
    await Deno.writeTextFile(file, litestreamConfig(dbPath, spec), { mode: 0o600 });
    return file;
  };
  return {
    name: "Litestream",
    async replicate(dbPath, spec, workDir) {
      const config = await configFor(dbPath, spec, join(workDir, "litestream.yml"));
      return { cmd: binary, args: ["replicate", "-config", config], env: baseEnv() };
    },
    async restore(dbPath, spec, out, workDir) {
      const config = await configFor(dbPath, spec, join(workDir, "litestream-restore.yml"));
      return { cmd: binary, args: ["restore", "-config", config, "-o", out, dbPath], env: baseEnv() };
    },
    decoder: litestreamDecoder,
  };
}

/** A v0.3.13 config with one database and one replica; values are JSON strings, which YAML reads as is. */
export function litestreamConfig(dbPath: string, spec: ReplicaSpec): string {
  const q = JSON.stringify;
  const replica = (() => {
    switch (spec.kind) {
      case "file":
        return [`type: file`, `path: ${q(spec.dir)}`];
      case "s3":
        return [
          `type: s3`,
          `bucket: ${q(spec.bucket)}`,
          `path: ${q(spec.path)}`,
          `endpoint: ${q(spec.endpoint)}`,
          `region: us-east-1`,
          `force-path-style: true`,
          `access-key-id: ${q(spec.accessKeyId)}`,
          `secret-access-key: ${q(spec.secretAccessKey)}`,
        ];
      case "abs":
        return [
          `type: abs`,
          `endpoint: ${q(spec.endpoint)}`,
          `account-name: ${q(spec.accountName)}`,
          `account-key: ${q(spec.accountKey)}`,
          `bucket: ${q(spec.container)}`,
          `path: ${q(spec.path)}`,
        ];
    }
  })();
  return [
    "dbs:",
    `  - path: ${q(dbPath)}`,
    "    replicas:",
    ...[...replica, "sync-interval: 1s"].map((line, i) => `${i === 0 ? "      - " : "        "}${line}`),
    "",
  ].join("\n");
}

/** The npm package version whose binary is Litestream v0.3.13 (checked with `npm view` and `litestream version`). */
const LITESTREAM_PACKAGE = "@flydotio/litestream-linux-x64@1.0.1";
const LITESTREAM_VERSION = "v0.3.13";

/** Where the bench keeps a peer it fetched: `~/.cache/walship-bench/<name>` (XDG_CACHE_HOME honoured). */
export function benchCacheDir(name: string): string {
  const cacheRoot = Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(cacheRoot, "walship-bench", name);
}

/** Installs Litestream v0.3.13 into the bench cache when it is not there yet; returns the binary's path. */
export async function installLitestream(): Promise<string> {
  const dir = benchCacheDir(`litestream-${LITESTREAM_VERSION}`);
  const binary = join(dir, "node_modules", "@flydotio", "litestream-linux-x64", "litestream");
  const version = async () => {
    try {
      const out = await new Deno.Command(binary, { args: ["version"], stdout: "piped", stderr: "null" })
        .output();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
    } catch {
      return undefined; // not installed yet
    }
  };
  if (await version() === LITESTREAM_VERSION) return binary;
  await Deno.mkdir(dir, { recursive: true });
  const npm = await new Deno.Command("npm", {
    args: ["install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", LITESTREAM_PACKAGE],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!npm.success) {
    throw new Error(`npm install ${LITESTREAM_PACKAGE} failed: ${new TextDecoder().decode(npm.stderr)}`);
  }
  const installed = await version();
  if (installed !== LITESTREAM_VERSION) {
    throw new Error(`expected Litestream ${LITESTREAM_VERSION}, got ${installed}`);
  }
  return binary;
}
