// TypeScript-SDK twin of e2e_endpoint.c: the same services and counters,
// used to check the e2e driver and as the benchmark reference.
//
// Usage: node service.mjs HOST:PORT   (HTTP/1.1 only: register with
// "use_http_11": true).  Environment as for e2e_endpoint: E2E_COUNT_DIR
// (required), E2E_STEP_DELAY_MS (default 0).

// @restatedev/restate-sdk 1.17 calls Promise.withResolvers, which Node 20
// lacks (it arrived in Node 22).
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

import * as restate from "@restatedev/restate-sdk";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const [host, port] = (process.argv[2] ?? "127.0.0.1:9080").split(":");
const COUNT_DIR = process.env.E2E_COUNT_DIR;
const DELAY = Number(process.env.E2E_STEP_DELAY_MS ?? "0");
if (!COUNT_DIR) {
  console.error("E2E_COUNT_DIR is required");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SAFE = /^[A-Za-z0-9_-]{1,63}$/;

// Append a line to COUNT_DIR/<name>.<suffix>; returns the line count.
function countAppend(name, suffix) {
  const file = path.join(COUNT_DIR, `${name}.${suffix}`);
  fs.appendFileSync(file, "x\n");
  return fs.readFileSync(file, "utf8").split("\n").length - 1;
}

async function step(counter, result) {
  countAppend(counter, "started");
  if (DELAY > 0) await sleep(DELAY);
  countAppend(counter, "done");
  return result;
}

const stage = restate.service({
  name: "stage",
  handlers: {
    process: async (ctx, input) => {
      const item = input?.item;
      const tag = input?.tag ?? "none";
      if (!SAFE.test(item ?? "") || !SAFE.test(tag))
        throw new restate.TerminalError("stage input needs a safe item",
                                        { errorCode: 400 });
      const validated = await ctx.run("validate", () =>
        step(`${tag}-${item}-validate`, { item, ok: true }));
      const enriched = await ctx.run("enrich", () =>
        step(`${tag}-${item}-enrich`, `${item}-enriched`));
      return { item, validated: validated.ok === true, enriched };
    },
  },
});

const wf = restate.workflow({
  name: "wf",
  handlers: {
    run: async (ctx) => {
      const key = ctx.key;
      ctx.set("state", { phase: "started", done: 0 });
      const results = [];
      for (const item of ["a", "b", "c"]) {
        results.push(await ctx.serviceClient(stage)
          .process({ item, tag: `wf-${key}` }));
      }
      ctx.set("state", { phase: "done", done: 3 });
      return { key, results };
    },
    getState: async (ctx) => (await ctx.get("state")) ?? null,
  },
});

const api = restate.service({
  name: "api",
  handlers: {
    submit: async (ctx, input) => {
      const handle = ctx.workflowSendClient(wf, input.key)
        .run({ order: input.order });
      return await handle.invocationId;
    },
  },
});

const flaky = restate.service({
  name: "flaky",
  handlers: {
    go: async (ctx, input) => {
      const counter = `${input.tag}-call-external`;
      return await ctx.run("call-external", () => {
        const n = countAppend(counter, "started");
        if (n < 3) throw new Error(`transient failure on execution ${n}`);
        countAppend(counter, "done");
        return { executions: n };
      });
    },
  },
});

const bad = restate.service({
  name: "bad",
  handlers: {
    go: async (ctx, input) => {
      throw new restate.TerminalError(`bad input: ${JSON.stringify(input)}`,
                                      { errorCode: 400 });
    },
  },
});

const bench = restate.service({
  name: "bench",
  handlers: { noop: async (ctx, input) => input ?? null },
});

const benchwf = restate.workflow({
  name: "benchwf",
  handlers: {
    run: async (ctx) => {
      let r;
      for (const name of ["one", "two", "three"]) {
        r = await ctx.run(name, () => name);
      }
      return r;
    },
  },
});

const handler = restate.endpoint()
  .bind(stage).bind(wf).bind(api).bind(flaky).bind(bad).bind(bench)
  .bind(benchwf)
  .handler();

const server = http.createServer(handler);
// Restate's delayed ACKs cost ~40 ms per attempt without TCP_NODELAY.
server.on("connection", (sock) => sock.setNoDelay(true));
server.listen(Number(port), host, () =>
  console.log(`ts reference endpoint on ${host}:${port}`));
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
