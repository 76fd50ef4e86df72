// What route modules import: `import { defineHandler, html, t, created, Layout } from "endpoint"` (package.json's
// "exports" points here). Only re-exports: the handler API, Elysia's `t` for schemas, and the page layout.
export { t } from "elysia";
export { created } from "./handlers/created.ts";
export { type Handler, type HandlerContext, defineHandler } from "./handlers/define-handler.ts";
export { html } from "./handlers/html.ts";
export { Layout } from "./pages/layout.tsx";
export type { Principal as Caller } from "./auth/principal.ts";
