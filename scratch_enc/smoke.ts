import { Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { FileStore } from "../lib/storage/file.ts";
import { withEncryption } from "../lib/storage/encrypted.ts";
import { bytesBody } from "../lib/storage/store.ts";
import { readAllBytes } from "../lib/util/streams.ts";
const dir = await Deno.makeTempDir();
const id = await generateIdentity();
const data = new Uint8Array(200_000).map((_, i) => (i * 7919) & 255);
const s = withEncryption(new FileStore(dir + "/a"), { recipients: [], identities: [id] });
console.log(await s.write({ level: 0, minTxid: 1n, maxTxid: 1n, createdAt: 5 }, bytesBody(data)));
console.log(await s.list(0));
const back = await readAllBytes(await s.open({ level: 0, minTxid: 1n, maxTxid: 1n }));
console.log("eq", back.length, back.every((b, i) => b === data[i]));
const part = await readAllBytes(await s.open({ level: 0, minTxid: 1n, maxTxid: 1n }, { offset: 70000, length: 100 }));
console.log("part", part.every((b, i) => b === data[70000 + i]), part.length);
let t = performance.now();
const p = withEncryption(new FileStore(dir + "/b"), { recipients: [], identities: [], passphrase: "correct horse" });
for (let i = 1; i <= 5; i++) await p.write({ level: 0, minTxid: BigInt(i), maxTxid: BigInt(i), createdAt: 5 }, bytesBody(data));
console.log("5 passphrase writes", performance.now() - t);
t = performance.now();
const p2 = withEncryption(new FileStore(dir + "/b"), { recipients: [], identities: [], passphrase: "correct horse" });
for (let i = 1; i <= 5; i++) await readAllBytes(await p2.open({ level: 0, minTxid: BigInt(i), maxTxid: BigInt(i) }));
console.log("5 passphrase reads", performance.now() - t);
const d = new Decrypter(); d.addPassphrase("correct horse");
const raw = await Deno.readFile(dir + "/b/ltx/0/0000000000000001-0000000000000001.ltx");
t = performance.now();
const plain = await d.decrypt(raw);
console.log("typage stock decrypt", plain.length, performance.now() - t);
console.log(new TextDecoder().decode(raw.subarray(0, 200)));
const plainStore = withEncryption(new FileStore(dir + "/b"));
try { await plainStore.open({ level: 0, minTxid: 1n, maxTxid: 1n }); } catch (e) { console.log("noKey:", (e as Error).message, (e as any).hint); }
const wrong = withEncryption(new FileStore(dir + "/b"), { recipients: [], identities: [], passphrase: "wrong" });
try { await wrong.open({ level: 0, minTxid: 1n, maxTxid: 1n }); } catch (e) { console.log("wrong:", (e as Error).message); }
const wrongId = withEncryption(new FileStore(dir + "/a"), { recipients: [], identities: [await generateIdentity()] });
try { await wrongId.open({ level: 0, minTxid: 1n, maxTxid: 1n }); } catch (e) { console.log("wrongId:", (e as Error).message); }
await Deno.writeTextFile(dir + "/id.txt", id + "\n");
console.log(dir);
