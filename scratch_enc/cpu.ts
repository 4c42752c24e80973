import process from "node:process";
const a = process.cpuUsage();
let x = 0; for (let i = 0; i < 3e8; i++) x += i;
console.log(process.cpuUsage(a), x > 0);
