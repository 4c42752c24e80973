/**
 * `deno task replicate [ARGS]`: development shortcut. With arguments it is `walship replicate ARGS`;
 * without, it replicates with `walship.yml` in the checkout.
 */
import { main } from "../main.ts";

const local = new URL("../walship.yml", import.meta.url).pathname;
if (Deno.args.length > 0) Deno.exit(await main(["replicate", ...Deno.args]));
if (!(await Deno.stat(local).catch(() => null))) {
  console.error(`error: no arguments and no ${local}`);
  console.error("hint: deno task replicate DB_PATH REPLICA_URL, or write walship.yml (see README)");
  Deno.exit(2);
}
Deno.exit(await main(["replicate", "-config", local]));
