/**
 * `walship replicate [-config F]` and `walship replicate DB_PATH URL...`: stream databases to their
 * replicas until signalled (or once, with -once), optionally running the application as a child.
 */
import type { DatabaseConfig, WalshipConfig } from "../config/config.ts";
import { parseReplicaUrl } from "../config/replica_url.ts";
import { startApp } from "../engine/app_process.ts";
import { DEFAULT_SCHEDULE } from "../engine/schedule.ts";
import { Supervisor } from "../engine/supervisor.ts";
import { type MetricsServer, serveMetrics } from "../metrics/metrics_server.ts";
import { formatMetrics } from "../metrics/prometheus.ts";
import { serviceMetrics } from "../metrics/service_metrics.ts";
import { openReplicaStore } from "../storage/open.ts";
import { UsageError } from "../util/errors.ts";
import { parseDuration } from "../util/duration.ts";
import { Logger, parseLogLevel } from "../util/log.ts";
import { type Command, print } from "./command.ts";
import { LOG_FLAGS, onShutdownSignal } from "./common.ts";
import { CONFIG_FLAGS, configFromFlags, databaseOptions } from "./config_source.ts";
import { type FlagValues, formatFlags, parseFlags } from "./flags.ts";

const FLAGS = {
  once: { type: "boolean", description: "sync once to every replica, then exit" },
  "force-snapshot": { type: "boolean", description: "with -once: also write a full snapshot" },
  "enforce-retention": { type: "boolean", description: "with -once: also apply the retention policy" },
  exec: {
    type: "string",
    valueName: "CMD",
    description: 'run the application as a child ("CMD ARGS"); exit with its code after a final sync',
  },
  "restore-if-db-not-exists": {
    type: "boolean",
    description: "restore a missing database from its first replica with a backup before starting",
  },
  "sync-interval": {
    type: "string",
    valueName: "DURATION",
    description: "how often to ship to replicas (1s; overrides the config)",
  },
  "monitor-interval": {
    type: "string",
    valueName: "DURATION",
    description: "how often to read the WAL (1s; overrides the config)",
  },
  ...CONFIG_FLAGS,
  ...LOG_FLAGS,
} as const;

type Flags = FlagValues<typeof FLAGS>;

/** What to run, from a config file or from DB_PATH and URLs. */
type ServicePlan = Omit<WalshipConfig, "path"> & { fromConfig: boolean };

export const replicateCommand: Command = {
  name: "replicate",
  usage: `Usage: walship replicate [flags]                              (databases of the config file)
       walship replicate [flags] DB_PATH REPLICA_URL [REPLICA_URL...]

Copies every committed transaction of each database (WAL mode) into LTX files and ships them to each
replica until interrupted: SIGINT/SIGTERM syncs once more, a second signal skips the retries. The config
file is -config, else $WALSHIP_CONFIG, else /etc/walship.yml. With -exec the application runs as a
child: signals are forwarded to it, and when it exits walship syncs and exits with its exit code.

Flags:
${formatFlags(FLAGS)}`,
  async run(args) {
    const { flags, positionals, help } = parseFlags("replicate", FLAGS, args);
    if (help) return print(this.usage), 0;
    checkFlags(flags, positionals);
    const plan = positionals.length > 0 ? positionalPlan(flags, positionals) : await configPlan(flags);
    const logger = serviceLogger(plan, flags);
    const supervisor = new Supervisor(plan.dbs, {
      schedule: plan.schedule,
      shutdownSyncTimeoutMs: plan.shutdownSyncTimeoutMs,
      shutdownSyncIntervalMs: plan.shutdownSyncIntervalMs,
      logger,
      restoreIfMissing: flags["restore-if-db-not-exists"] ?? false,
      // A service waits for its databases to appear; `replicate DB URL` by hand fails on a typo at once.
      waitForMissing: plan.fromConfig || plan.exec !== undefined ||
        (flags["restore-if-db-not-exists"] ?? false),
      ...durationFlag(flags, "sync-interval", "syncIntervalMs"),
      ...durationFlag(flags, "monitor-interval", "monitorIntervalMs"),
      databaseOptions: (t) => databaseOptions(t.config, t.metaPath, logger),
    });
    if (flags.once) {
      await supervisor.syncOnce({
        forceSnapshot: flags["force-snapshot"] ?? false,
        enforceRetention: flags["enforce-retention"] ?? false,
      });
      return 0;
    }
    return await runService(supervisor, plan, logger);
  },
};

function checkFlags(flags: Flags, positionals: string[]): void {
  if (positionals.length === 1) {
    throw new UsageError(`Must specify at least one replica URL for "${positionals[0]}"`, {
      hint: "walship replicate /path/to/app.db file:///path/to/replica, or walship replicate -config FILE",
    });
  }
  if (positionals.length > 0 && flags.config !== undefined) {
    throw new UsageError("Cannot use -config together with DB_PATH and REPLICA_URL arguments", {
      hint: "give either -config FILE, or DB_PATH REPLICA_URL",
    });
  }
  if (flags["force-snapshot"] && !flags.once) throw new UsageError("-force-snapshot works only with -once");
  if (flags["enforce-retention"] && !flags.once) {
    throw new UsageError("-enforce-retention works only with -once", {
      hint: "a running replicate applies retention by itself",
    });
  }
  if (flags.exec !== undefined && flags.once) throw new UsageError("-exec cannot be used with -once");
}

function positionalPlan(flags: Flags, positionals: string[]): ServicePlan {
  const [path, ...urls] = positionals as [string, ...string[]];
  const syncIntervalMs = flags["sync-interval"]
    ? parseDuration(flags["sync-interval"], "-sync-interval")
    : 1000;
  const db: DatabaseConfig = {
    path,
    recursive: false,
    watch: false,
    monitorIntervalMs: Math.min(1000, syncIntervalMs),
    checkpointIntervalMs: 60_000,
    busyTimeoutMs: 1000,
    minCheckpointPageCount: 1000,
    truncatePageCount: 121359,
    maxSyncWalBytes: 64 * 1024 * 1024,
    restoreIfDbNotExists: false,
    replicas: urls.map((url) => {
      const spec = parseReplicaUrl(url);
      return { name: openReplicaStore(spec).describe(), spec, syncIntervalMs };
    }),
  };
  return {
    fromConfig: false,
    dbs: [db],
    logging: { level: "info", type: "text", stderr: true },
    schedule: DEFAULT_SCHEDULE,
    shutdownSyncTimeoutMs: 30_000,
    shutdownSyncIntervalMs: 500,
    ...(flags.exec !== undefined ? { exec: flags.exec } : {}),
  };
}

async function configPlan(flags: Flags): Promise<ServicePlan> {
  const { path, ...config } = await configFromFlags(flags);
  if (config.dbs.length === 0) {
    throw new UsageError(`Config file "${path}" lists no databases`, {
      hint: "add a dbs: entry with path: and replica:",
    });
  }
  if (flags.exec !== undefined) config.exec = flags.exec;
  return { ...config, fromConfig: true };
}

function durationFlag<K extends string>(
  flags: Flags,
  name: "sync-interval" | "monitor-interval",
  key: K,
): { [P in K]?: number } {
  const text = flags[name];
  return text === undefined ? {} : { [key]: parseDuration(text, `-${name}`) } as { [P in K]: number };
}

/** Level: -log-level, else LOG_LEVEL, else the config. A config logs to stdout unless `logging.stderr`, as Litestream. */
function serviceLogger(plan: ServicePlan, flags: Flags): Logger {
  const text = flags["log-level"] ?? Deno.env.get("LOG_LEVEL");
  const level = text === undefined ? plan.logging.level : parseLogLevel(text);
  if (!level) throw new UsageError(`Unknown log level "${text}"`, { hint: "use debug, info, warn or error" });
  const encoder = new TextEncoder();
  const out = plan.logging.stderr ? Deno.stderr : Deno.stdout;
  return new Logger({
    level,
    format: plan.logging.type,
    write: (line) => out.writeSync(encoder.encode(line + "\n")),
  });
}

async function runService(supervisor: Supervisor, plan: ServicePlan, logger: Logger): Promise<number> {
  const shutdown = onShutdownSignal(logger);
  let signalled = false;
  shutdown.stopped.then(() => (signalled = true));
  let metrics: MetricsServer | undefined;
  try {
    if (plan.addr !== undefined) {
      metrics = serveMetrics(
        plan.addr,
        async () => formatMetrics(serviceMetrics(await supervisor.stats())),
        logger,
      );
    }
    await supervisor.start();
    let appCode: number | undefined;
    if (plan.exec !== undefined && !signalled) {
      try {
        appCode = await runApp(plan.exec, shutdown.stopped, logger);
      } catch (err) {
        await supervisor.stop(shutdown.signal); // the application never ran; walship ends with it
        throw err;
      }
    } else {
      await shutdown.stopped;
    }
    const clean = await supervisor.stop(shutdown.signal);
    if (appCode !== undefined && appCode !== 0) return appCode;
    return clean ? 0 : 1;
  } finally {
    await metrics?.close();
  }
}

/** Runs the application until it exits, forwarding SIGINT/SIGTERM to it; resolves to its exit code. */
async function runApp(commandLine: string, stopped: Promise<void>, logger: Logger): Promise<number> {
  const app = startApp(commandLine);
  logger.info("application started", { pid: app.pid });
  const forward = (signal: Deno.Signal) => () => app.kill(signal);
  const handlers = [["SIGINT", forward("SIGINT")], ["SIGTERM", forward("SIGTERM")]] as const;
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    const first = await Promise.race([app.exited, stopped.then(() => null)]);
    if (first === null) logger.info("waiting for the application to exit");
    const code = first ?? await app.exited;
    logger.info("application exited", { code });
    return code;
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
}
