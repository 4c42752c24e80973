/**
 * The metrics of a running `replicate`, per database (`db` label: its path) and per replica (`replica`
 * label: its name). Names and meanings are listed in the README.
 */
import type { DatabaseStats } from "../engine/supervisor.ts";
import type { MetricFamily, Sample } from "./prometheus.ts";

export function serviceMetrics(databases: readonly DatabaseStats[]): MetricFamily[] {
  const perDb = (pick: (d: DatabaseStats) => number, only = true): Sample[] =>
    databases.filter((d) => !only || d.running).map((d) => ({ labels: { db: d.path }, value: pick(d) }));
  // A database waiting to start has no replication figures, only its replicas' error counts.
  const perReplica = (pick: (r: DatabaseStats["replicas"][number]) => number | null, only = true): Sample[] =>
    databases.filter((d) => !only || d.running).flatMap((d) =>
      d.replicas.flatMap((r) => {
        const value = pick(r);
        return value === null ? [] : [{ labels: { db: d.path, replica: r.name }, value }];
      })
    );
  return [
    {
      name: "walship_db_up",
      help: "1 while the database is replicated, 0 while it waits to be opened (missing or failing).",
      type: "gauge",
      samples: perDb((d) => (d.running ? 1 : 0), false),
    },
    {
      name: "walship_db_txid",
      help: "TXID of the newest LTX file written from the database's WAL.",
      type: "gauge",
      samples: perDb((d) => Number(d.txid)),
    },
    {
      name: "walship_wal_bytes",
      help: "Size of the database's -wal file in bytes.",
      type: "gauge",
      samples: perDb((d) => d.walBytes),
    },
    {
      name: "walship_replica_txid",
      help: "Newest TXID the replica is known to hold.",
      type: "gauge",
      samples: perReplica((r) => (r.txid === null ? null : Number(r.txid))),
    },
    {
      name: "walship_replica_lag_seconds",
      help: "Age of the oldest change the replica does not hold yet; 0 when it is caught up.",
      type: "gauge",
      samples: perReplica((r) => r.lagMs / 1000),
    },
    {
      name: "walship_replica_shipped_bytes_total",
      help: "Bytes of LTX files uploaded to the replica.",
      type: "counter",
      samples: perReplica((r) => r.shippedBytes),
    },
    {
      name: "walship_replica_shipped_files_total",
      help: "LTX files uploaded to the replica.",
      type: "counter",
      samples: perReplica((r) => r.shippedFiles),
    },
    {
      name: "walship_replica_errors_total",
      help: "Replica operations (list, read, upload, delete) that failed after retries.",
      type: "counter",
      samples: perReplica((r) => r.errors, false),
    },
  ];
}
