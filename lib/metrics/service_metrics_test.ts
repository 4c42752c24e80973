import assert from "node:assert/strict";
import { formatMetrics } from "./prometheus.ts";
import { serviceMetrics } from "./service_metrics.ts";

Deno.test("serviceMetrics() reports running databases in full and waiting ones by up=0 and errors only", () => {
  const replica = { name: "s3", txid: 7n, lagMs: 1500, shippedBytes: 4096, shippedFiles: 3, errors: 2 };
  const text = formatMetrics(serviceMetrics([
    { path: "/d/a.db", running: true, txid: 9n, walBytes: 8272, replicas: [replica] },
    {
      path: "/d/b.db",
      running: false,
      txid: 0n,
      walBytes: 0,
      replicas: [{ ...replica, txid: null, errors: 5 }],
    },
  ]));
  const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(lines, [
    'walship_db_up{db="/d/a.db"} 1',
    'walship_db_up{db="/d/b.db"} 0',
    'walship_db_txid{db="/d/a.db"} 9',
    'walship_wal_bytes{db="/d/a.db"} 8272',
    'walship_replica_txid{db="/d/a.db",replica="s3"} 7',
    'walship_replica_lag_seconds{db="/d/a.db",replica="s3"} 1.5',
    'walship_replica_shipped_bytes_total{db="/d/a.db",replica="s3"} 4096',
    'walship_replica_shipped_files_total{db="/d/a.db",replica="s3"} 3',
    'walship_replica_errors_total{db="/d/a.db",replica="s3"} 2',
    'walship_replica_errors_total{db="/d/b.db",replica="s3"} 5',
  ]);
  assert.match(text, /# TYPE walship_replica_shipped_bytes_total counter/);
});
