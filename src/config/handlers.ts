// Resolving `handler: <module>.<export>` to a handler made with defineHandler in routes/<module>.ts(x).
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Handler } from "../handlers/define-handler.ts";
import { hasHandlerMark } from "./handler-mark.ts";

export const isHandler = (value: unknown): value is Handler => hasHandlerMark(value);
import type { Config } from "./schema.ts";
import { didYouMean } from "./suggest.ts";

/** routes/ beside the config file, unless given. */
export const defaultRoutesDir = (configFile: string) => join(dirname(resolve(configFile)), "routes");

export type HandlerProblem =
  | { code: "unknown-handler-module"; message: string }
  | { code: "handler-module-failed"; message: string }
  | { code: "unknown-handler-export"; message: string }
  | { code: "not-a-handler"; message: string };

function moduleFile(routesDir: string, module: string): string | undefined {
  for (const extension of [".ts", ".tsx"]) {
    const file = join(routesDir, module + extension);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function listModules(routesDir: string, prefix = ""): string[] {
  if (!existsSync(routesDir)) return [];
  return readdirSync(routesDir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return listModules(join(routesDir, entry.name), `${prefix}${entry.name}/`);
    const match = /^(.+)\.tsx?$/.exec(entry.name);
    return match && !entry.name.endsWith(".d.ts") ? [`${prefix}${match[1]}`] : [];
  });
}

/** The handler a reference names, or what is wrong with the reference. */
export async function resolveHandler(routesDir: string, reference: string): Promise<Handler | HandlerProblem> {
  const dot = reference.lastIndexOf(".");
  const module = reference.slice(0, dot);
  const name = reference.slice(dot + 1);
  const file = moduleFile(routesDir, module);
  const fromHere = relative(process.cwd(), routesDir);
  const shown = fromHere === "" ? "." : fromHere.startsWith("..") ? routesDir : fromHere;
  if (!file)
    return { code: "unknown-handler-module", message: `no module '${module}' in ${shown}/ (looked for ${module}.ts)${didYouMean(module, listModules(routesDir))}` };
  let exports: Record<string, unknown>;
  try {
    exports = await import(file);
  } catch (error) {
    // Bun reports build failures as an AggregateError; its first error says what is wrong.
    const first = (error as { errors?: unknown[] })?.errors?.[0] ?? error;
    const reason = first instanceof Error || (first as { message?: string })?.message ? String((first as Error).message).split("\n")[0] : String(first);
    return { code: "handler-module-failed", message: `module '${module}' failed to load: ${reason}` };
  }
  if (!Object.hasOwn(exports, name)) {
    const handlers = Object.keys(exports).filter((k) => isHandler(exports[k]));
    return { code: "unknown-handler-export", message: `module '${module}' has no export '${name}'${didYouMean(name, handlers)}` };
  }
  if (!isHandler(exports[name]))
    return { code: "not-a-handler", message: `'${reference}' is not a handler: make it with defineHandler({ handle(...) { … } })` };
  return exports[name] as Handler;
}

/**
 * Drop the handler modules under `routesDir` (and what they import from there) from the module cache, so the
 * next import reads the files as they are now. The rest (Endpoint itself, node_modules) stays loaded.
 */
export function forgetHandlerModules(routesDir: string): void {
  const prefix = resolve(routesDir) + sep;
  for (const file of Object.keys(require.cache)) if (file.startsWith(prefix)) delete require.cache[file];
}

/** Every handler the config's routes name, keyed by reference; throws if one fails (validate first). */
export async function loadHandlers(config: Config, routesDir = defaultRoutesDir(config.file)): Promise<Map<string, Handler>> {
  const handlers = new Map<string, Handler>();
  for (const route of config.routes) {
    if (handlers.has(route.handler)) continue;
    const resolved = await resolveHandler(routesDir, route.handler);
    if (!isHandler(resolved)) throw new Error(`route '${route.name}': ${resolved.message}`);
    handlers.set(route.handler, resolved);
  }
  return handlers;
}
