/** `deno task replicate [ARGS]`: development shortcut for `walship replicate ARGS`. */
import { main } from "../main.ts";

if (Deno.args.length === 0) {
  console.error("usage: deno task replicate DB_PATH REPLICA_URL [REPLICA_URL...]");
  console.error("(running from a walship.yml in the checkout arrives with config-file support)");
  Deno.exit(2);
}
Deno.exit(await main(["replicate", ...Deno.args]));
