// The yardstick: bare Bun.serve answering "ok", on the port given as the first argument.
const server = Bun.serve({ port: Number(process.argv[2] ?? 0), hostname: "127.0.0.1", development: false, fetch: () => new Response("ok") });
console.error(`baseline listening on http://127.0.0.1:${server.port}`);
