// Validates a YAML document against the TypeBox schema by walking the YAML nodes themselves, so every fault
// is reported with the line and column of the node at fault, and all faults are reported in one pass.
// Produces plain data built only from keys the schema knows (a `__proto__:` key is just an unknown key).
import { Kind, type TSchema } from "@sinclair/typebox";
import { type Document, type LineCounter, type Node, isAlias, isMap, isPair, isScalar, isSeq } from "yaml";
import type { Finding, FindingCode } from "./findings.ts";
import { interpolate } from "./interpolate.ts";
import { didYouMean, suggest } from "./suggest.ts";

export type Path = Array<string | number>;

/** A schema read generically (TypeBox kinds carry different fields). */
type Loose = Record<string | symbol, any>;

export interface Positions {
  /** Where the value at a path starts. */
  value: Map<string, [number, number]>;
  /** Where the key of the value at a path starts. */
  key: Map<string, [number, number]>;
}

export const pathKey = (path: Path) => path.join(".");

interface Walk {
  doc: Document;
  lines: LineCounter;
  file: string;
  env: Record<string, string | undefined>;
  findings: Finding[];
  positions: Positions;
  /** For messages: the name of the route at routes[i], when known. */
  routeNames: Map<number, string>;
}

const FRIENDLY_PATTERNS: Record<string, string> = {
  "^[a-z0-9][a-z0-9._-]{0,63}$": "1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
  "^(\\*|[a-z0-9][a-z0-9._-]{0,63})$": "a group name, or \"*\" for anyone signed in",
  "^https?://[^/?#\\s]+/?$": "an http:// or https:// address with no path, e.g. https://endpoint.example",
  "^[A-Za-z0-9_-]{1,64}$": "1-64 letters, digits, '_' or '-'",
  "^(\\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?)$": "an origin with no path, e.g. https://app.example or http://localhost:3000, or '*'",
  "^[A-Za-z0-9-]{1,64}$": "a header name, e.g. Authorization",
  "^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\\.[A-Za-z_$][A-Za-z0-9_$]*$": "<module>.<export>, e.g. example.status",
};

export function checkDocument(
  doc: Document,
  lines: LineCounter,
  schema: TSchema,
  options: { file: string; env: Record<string, string | undefined> },
): { value: unknown; findings: Finding[]; positions: Positions } {
  const walk: Walk = {
    doc,
    lines,
    file: options.file,
    env: options.env,
    findings: [],
    positions: { value: new Map(), key: new Map() },
    routeNames: new Map(),
  };
  const value = visit(walk, doc.contents as Node | null, schema, [], doc.contents ? undefined : [1, 1]);
  return { value, findings: walk.findings, positions: walk.positions };
}

function position(walk: Walk, node: Node | null | undefined): [number, number] {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = walk.lines.linePos(offset);
  return [line, col];
}

function report(walk: Walk, at: [number, number], code: FindingCode, message: string): void {
  walk.findings.push({ file: walk.file, line: at[0], col: at[1], code, message });
}

/** How a path reads in a message: `server.port`, or `route 'status': method`. */
export function describePath(path: Path, routeNames: Map<number, string>): string {
  if (path[0] === "routes" && typeof path[1] === "number") {
    const name = routeNames.get(path[1]);
    const route = name ? `route '${name}'` : `route #${path[1] + 1}`;
    const rest = path.slice(2).join(".");
    return rest ? `${route}: ${rest}` : route;
  }
  return path.length ? path.join(".") : "the file";
}

function visit(walk: Walk, node: Node | null, schema: TSchema, path: Path, at?: [number, number]): unknown {
  if (node && isAlias(node)) node = (node.resolve(walk.doc) as Node | undefined) ?? null;
  const here = at ?? position(walk, node);
  walk.positions.value.set(pathKey(path), here);
  // Read a route's `name` first, so every message about the route can say which route.
  if (path.length === 2 && path[0] === "routes" && typeof path[1] === "number" && node && isMap(node)) {
    const namePair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === "name");
    if (namePair && isScalar(namePair.value) && typeof namePair.value.value === "string") walk.routeNames.set(path[1], namePair.value.value);
  }
  const where = describePath(path, walk.routeNames);
  const kind = (schema as Loose)[Kind] as string | undefined;

  if (kind === "Union") {
    const alternatives = (schema as Loose).anyOf as TSchema[];
    const trials: Walk[] = [];
    for (const alternative of alternatives) {
      const trial: Walk = { ...walk, findings: [], positions: { value: new Map(), key: new Map() } };
      const value = visit(trial, node, alternative, path, here);
      if (trial.findings.length === 0) {
        for (const [k, v] of trial.positions.value) walk.positions.value.set(k, v);
        for (const [k, v] of trial.positions.key) walk.positions.key.set(k, v);
        return value;
      }
      trials.push(trial);
    }
    // A mapping where the union takes one kind of mapping (or a list where it takes one kind of list): that
    // alternative's own findings say what is wrong inside, where it is written.
    const shape = (alternative: TSchema) => ((alternative as Loose)[Kind] === "Array" ? "list" : ["Object", "Record"].includes((alternative as Loose)[Kind]) ? "map" : "scalar");
    const givenShape = node && isMap(node) ? "map" : node && isSeq(node) ? "list" : "scalar";
    const fitting = alternatives.flatMap((alternative, i) => (shape(alternative) === givenShape && givenShape !== "scalar" ? [i] : []));
    if (fitting.length === 1) {
      walk.findings.push(...trials[fitting[0]!]!.findings);
      return undefined;
    }
    const literals = alternatives.filter((a) => (a as { [Kind]?: string })[Kind] === "Literal").map((a) => (a as Loose).const);
    const given = node && isScalar(node) ? scalarText(walk, node, path) : undefined;
    if (literals.length === alternatives.length) {
      report(walk, here, "bad-value", `${where} must be one of ${literals.join(", ")}${given !== undefined ? ` (got '${String(given).slice(0, 40)}')${didYouMean(String(given), literals.map(String))}` : ""}`);
    } else {
      const kinds = alternatives.map(describeKind);
      const extra = literals.length ? ` (${literals.join(", ")})` : "";
      report(walk, here, "wrong-type", `${where} must be ${[...new Set(kinds)].join(" or ")}${extra}`);
    }
    return undefined;
  }

  if (kind === "Object" || kind === "Record") {
    if (!node || !isMap(node)) {
      report(walk, here, "wrong-type", `${where} must be a mapping (key: value lines)`);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    const misspelt = new Set<string>();
    const properties = kind === "Object" ? ((schema as Loose).properties ?? {}) : {};
    const required = kind === "Object" ? ((schema as Loose).required ?? []) : [];
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const keyAt = position(walk, keyNode);
      if (!keyNode || !isScalar(keyNode) || typeof keyNode.value !== "string") {
        report(walk, keyAt, "wrong-type", `${where}: keys must be plain words`);
        continue;
      }
      const key = keyNode.value;
      const childPath = [...path, key];
      walk.positions.key.set(pathKey(childPath), keyAt);
      if (kind === "Record") {
        const keySchema = Object.values((schema as Loose).patternProperties)[0]!;
        const pattern = Object.keys((schema as Loose).patternProperties)[0]!;
        if (!new RegExp(pattern).test(key)) {
          report(walk, keyAt, "bad-value", `${where}: '${key.slice(0, 64)}' is not a valid name: use ${FRIENDLY_PATTERNS[pattern] ?? `text matching ${pattern}`}`);
          continue;
        }
        void keySchema;
        const value = visit(walk, pair.value as Node | null, (schema as Loose).patternProperties[pattern]!, childPath);
        if (value !== undefined) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        continue;
      }
      if (!Object.hasOwn(properties, key)) {
        const context = path.length === 0 ? "at the top level" : `in ${where}`;
        const hint = suggest(key, Object.keys(properties));
        if (hint) misspelt.add(hint);
        report(walk, keyAt, "unknown-key", `unknown key '${key.slice(0, 64)}' ${context}${hint ? `; did you mean '${hint}'?` : ""}`);
        continue;
      }
      const value = visit(walk, pair.value as Node | null, properties[key]!, childPath, pair.value ? undefined : position(walk, keyNode));
      if (value !== undefined) out[key] = value;
    }
    for (const key of required) {
      // A misspelt required key is reported once, as the unknown key with its suggestion.
      if (misspelt.has(key)) continue;
      if (!node.items.some((p) => isScalar(p.key) && p.key.value === key))
        report(walk, here, "missing-key", path.length === 0 ? `missing key '${key}'` : `${where} is missing key '${key}'`);
    }
    return out;
  }

  if (kind === "Array") {
    if (!node || !isSeq(node)) {
      report(walk, here, "wrong-type", `${where} must be a list`);
      return undefined;
    }
    const items = (schema as Loose).items;
    const out = node.items.map((item, index) => visit(walk, item as Node | null, items, [...path, index]));
    const { minItems, maxItems, uniqueItems } = schema as Loose;
    if (minItems !== undefined && out.length < minItems) report(walk, here, "bad-value", `${where} must list at least ${minItems} item${minItems === 1 ? "" : "s"}`);
    if (maxItems !== undefined && out.length > maxItems) report(walk, here, "bad-value", `${where} must list at most ${maxItems} items`);
    if (uniqueItems && new Set(out.map((v) => JSON.stringify(v))).size !== out.length) report(walk, here, "bad-value", `${where} lists an item twice`);
    return out;
  }

  // Scalars.
  if (!node || !isScalar(node)) {
    report(walk, here, "wrong-type", `${where} must be ${describeKind(schema)}${node ? "" : ", but is empty"}`);
    return undefined;
  }
  const raw = node.value;
  const text = typeof raw === "string" ? interpolate(raw, walk.env) : undefined;
  if (text?.unset.length) {
    report(walk, here, "unset-variable", `${where} uses \${${text.unset[0]}}, which is not set and has no default (write \${${text.unset[0]}:-default} to give one)`);
    return undefined;
  }
  let value: unknown = text ? text.value : raw;
  if (text?.replaced && typeof value === "string") {
    // A number or switch that came from the environment arrives as text.
    const trimmed = value.trim();
    if ((kind === "Integer" || kind === "Number") && /^-?\d+$/.test(trimmed)) value = Number(trimmed);
    if (kind === "Boolean" && /^(true|false)$/.test(trimmed)) value = trimmed === "true";
  }
  switch (kind) {
    case "String": {
      if (typeof value !== "string") {
        report(walk, here, "wrong-type", `${where} must be text, not ${describeValue(value)}`);
        return undefined;
      }
      const { minLength, maxLength, pattern } = schema as Loose;
      if (minLength !== undefined && value.length < minLength) report(walk, here, "bad-value", `${where} must not be empty`);
      else if (maxLength !== undefined && value.length > maxLength) report(walk, here, "bad-value", `${where} must be at most ${maxLength} characters`);
      else if (pattern !== undefined && !new RegExp(pattern).test(value))
        report(walk, here, "bad-value", `${where} must be ${FRIENDLY_PATTERNS[pattern] ?? `text matching ${pattern}`} (got '${value.slice(0, 40)}')`);
      return value;
    }
    case "Integer":
    case "Number": {
      if (typeof value !== "number" || (kind === "Integer" && !Number.isInteger(value))) {
        report(walk, here, "wrong-type", `${where} must be ${describeKind(schema)}, not ${describeValue(value)}`);
        return undefined;
      }
      const { minimum, maximum } = schema as Loose;
      if (minimum !== undefined && value < minimum) report(walk, here, "bad-value", `${where} must be at least ${minimum}`);
      if (maximum !== undefined && value > maximum) report(walk, here, "bad-value", `${where} must be at most ${maximum}`);
      return value;
    }
    case "Boolean":
      if (typeof value !== "boolean") {
        report(walk, here, "wrong-type", `${where} must be true or false, not ${describeValue(value)}`);
        return undefined;
      }
      return value;
    case "Literal": {
      const expected = (schema as Loose).const;
      if (value !== expected) {
        report(walk, here, "bad-value", `${where} must be ${JSON.stringify(expected)}`);
        return undefined;
      }
      return value;
    }
    default:
      return value;
  }
}

function scalarText(walk: Walk, node: Node, path: Path): unknown {
  const raw = (node as { value?: unknown }).value;
  return typeof raw === "string" ? interpolate(raw, walk.env).value : raw;
  void path;
}

function describeKind(schema: TSchema): string {
  switch ((schema as { [Kind]?: string })[Kind]) {
    case "String":
      return "text";
    case "Integer":
      return "a whole number";
    case "Number":
      return "a number";
    case "Boolean":
      return "true or false";
    case "Array":
      return "a list";
    case "Object":
    case "Record":
      return "a mapping";
    case "Literal":
      return JSON.stringify((schema as Loose).const);
    default:
      return "a value";
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "empty";
  if (typeof value === "string") return `text ('${value.slice(0, 40)}')`;
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return String(value);
  return typeof value;
}
