// Turns bench/run's runs.tsv into the markdown summary table (medians over rounds).
//   node report.mjs runs.tsv
import { readFileSync } from "node:fs";

const [header, ...lines] = readFileSync(process.argv[2], "utf8").trim().split("\n");
const cols = header.split("\t");
const runs = lines.map((l) => Object.fromEntries(l.split("\t").map((v, i) => [cols[i], v])));
const num = (r, k) => Number(r[k]);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "–");

// The run a row is compared with, in the same round and scenario: the location named BASE or
// BASE-something (/oauth2-dpop/ in distinct-dpop), of the same kind (static or proxied).
const peerRun = (round, scen, loc, base) => runs.find((r) => r.round === round && r.scenario === scen &&
  (r.location === base || r.location.startsWith(`${base}-`)) && r.location.endsWith("-proxy") === loc.endsWith("-proxy"));

const keys = [];
for (const r of runs) {
  const k = `${r.scenario}\t${r.location}`;
  if (!keys.includes(k)) keys.push(k);
}
keys.sort((a, b) => {
  const [sa, la] = a.split("\t"), [sb, lb] = b.split("\t");
  const order = ["open", "mcp-auth", "mcp-auth-dpop", "mcp-auth-introspect", "mcp-auth-exchange", "oauth2", "oauth2-dpop",
    "oauth2-introspect", "open-proxy", "mcp-auth-proxy", "mcp-rules-proxy", "mcp-exchange-proxy", "oauth2-proxy"];
  return runs.findIndex((r) => r.scenario === sa) - runs.findIndex((r) => r.scenario === sb) ||
    order.indexOf(la) - order.indexOf(lb);
});

console.log("| scenario | location | req/s | p99 ms | CPU µs/req | vs /open | vs /oauth2 | JWKS fetches | introspections | exchanges | non-2xx | RSS MiB per child |");
console.log("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
for (const k of keys) {
  const [scen, loc] = k.split("\t");
  const rs = runs.filter((r) => r.scenario === scen && r.location === loc);
  const ratio = (base) => median(rs.map((r) => {
    const b = peerRun(r.round, scen, loc, base);
    return b ? num(r, "rps") / num(b, "rps") : NaN;
  }));
  const secs = rs.reduce((s, r) => s + num(r, "seconds"), 0);
  // a count summed over rounds, with the seconds measured and the most in one run
  const count = (k) => {
    if (!(k in rs[0])) return "–"; // a runs.tsv from before the column
    const sum = rs.reduce((s, r) => s + num(r, k), 0), most = Math.max(...rs.map((r) => num(r, k)));
    return `${sum} in ${+secs.toFixed(1)} s${rs.length > 1 && most > 0 ? ` (≤ ${most}/run)` : ""}`;
  };
  const non2xx = median(rs.map((r) => (100 * num(r, "non2xx")) / num(r, "requests")));
  const errs = rs.reduce((s, r) => s + num(r, "socket_errors"), 0);
  const failed = rs.reduce((s, r) => s + num(r, "non2xx"), 0); // shown as a count where the share rounds to 0
  console.log(`| ${scen} | /${loc}/ | ${fmt(median(rs.map((r) => num(r, "rps"))))} | ` +
    `${fmt(median(rs.map((r) => num(r, "p99_ms"))), 2)} | ${fmt(median(rs.map((r) => num(r, "cpu_us_per_req"))), 1)} | ` +
    `${fmt(ratio("open"), 2)} | ${fmt(ratio("oauth2"), 2)} | ${count("jwks_fetches")} | ${count("idp_questions")} | ` +
    `${count("exchanges")} | ` +
    `${fmt(non2xx, 0)} %${failed > 0 && non2xx < 0.5 ? ` (${failed})` : ""}${errs ? ` (${errs} socket errors)` : ""} | ${rs[rs.length - 1].rss_mib.replaceAll("/", " / ")} |`);
}
