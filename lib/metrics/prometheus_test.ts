import assert from "node:assert/strict";
import { formatMetrics } from "./prometheus.ts";

Deno.test("formatMetrics() writes HELP, TYPE and escaped label values, and leaves out empty families", () => {
  const text = formatMetrics([
    {
      name: "walship_replica_lag_seconds",
      help: "Lag.\nSecond line",
      type: "gauge",
      samples: [
        { labels: { db: '/data/a "quoted" \\ db', replica: "s3" }, value: 1.5 },
        { labels: { db: "/data/b\nnewline", replica: "file" }, value: 0 },
      ],
    },
    { name: "walship_empty", help: "nothing", type: "counter", samples: [] },
    { name: "walship_up", help: "no labels", type: "gauge", samples: [{ labels: {}, value: NaN }] },
  ]);
  assert.equal(
    text,
    [
      "# HELP walship_replica_lag_seconds Lag.\\nSecond line",
      "# TYPE walship_replica_lag_seconds gauge",
      'walship_replica_lag_seconds{db="/data/a \\"quoted\\" \\\\ db",replica="s3"} 1.5',
      'walship_replica_lag_seconds{db="/data/b\\nnewline",replica="file"} 0',
      "# HELP walship_up no labels",
      "# TYPE walship_up gauge",
      "walship_up NaN",
      "",
    ].join("\n"),
  );
});
