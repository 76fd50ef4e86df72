// db/schema.ts from the migrations: migrate a throwaway embedded database, read its catalog, render Kysely's types.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Kysely, sql } from "kysely";
import { MIGRATIONS_DIR, migrateToLatest } from "./migrate.ts";
import { openDatabase } from "./open.ts";

/** The table types the code is compiled against: `db types` writes this file, `migrate check` compares with it. */
export const SCHEMA_FILE = path.join(import.meta.dir, "schema.ts");

/** What the catalog cannot say about a column. */
export interface ColumnNote {
  /** One line of documentation, rendered as a doc comment above the column. */
  doc?: string;
  /** Written when the row is inserted, never updated (its update type becomes `never`). */
  insertOnly?: boolean;
  /** The TypeScript type a json or jsonb column holds (default `unknown`). */
  json?: string;
}

const INSERT_ONLY: ColumnNote = { insertOnly: true };

/** Notes on Endpoint's columns, by table and column. A note naming a column the migrations do not make is an error. */
export const SCHEMA_NOTES: Record<string, Record<string, ColumnNote>> = {
  users: {
    username: { doc: "Kept as typed; unique without regard to case (index on lower(username))." },
    password_hash: { doc: "argon2id, from Bun.password." },
    created_at: INSERT_ONLY,
  },
  groups: { created_at: INSERT_ONLY },
  group_members: { created_at: INSERT_ONLY },
  sessions: {
    id_hash: { doc: "SHA-256 (hex) of the random id in the cookie; the id itself is never stored." },
    created_at: INSERT_ONLY,
    authenticated_at: { doc: "When the user last typed their password (for sudo mode)." },
  },
  api_tokens: {
    id: { doc: "The token's jti." },
    routes: { doc: "Route names the token may call; null = any route its owner's groups allow." },
    created_at: INSERT_ONLY,
    parent_id: { doc: "The token that created this one (a child never outlives or outranks it, and is revoked with it).", insertOnly: true },
  },
  login_throttle: { key: { doc: '"user:<lowercased name>" or "address:<ip>".' } },
  audit_log: {
    at: INSERT_ONLY,
    actor: { doc: 'Who did it: a username, or "cli:<os user>" for the command line.' },
    source: { doc: "cli | web | api" },
    detail: { insertOnly: true, json: "Record<string, unknown>" },
  },
  events: { received_at: INSERT_ONLY, payload: INSERT_ONLY },
  rate_limit_grants: {
    bucket: { doc: "SHA-256 (hex) of route, policy and key (token, user, address or route): no address or token id is stored." },
    granted: { doc: "Permits handed to instances in this window, all instances together; never more than the limit." },
    last_grant: { doc: "How many the latest request for permits received (read back by that request)." },
  },
};

/** The notes and the catalog disagree, or two objects would get one name: the file cannot be written. */
export class SchemaTypesError extends Error {
  override name = "SchemaTypesError";
}

/** The Migrator's own tables (db/migrate.ts), which no query above db/ touches. */
const MIGRATOR_TABLES = ["endpoint_migrations", "endpoint_migrations_lock"];

export interface CatalogColumn {
  name: string;
  /** pg_type name after domains are resolved, e.g. `timestamptz`, `_text` (an array), or an enum's name. */
  type: string;
  notNull: boolean;
  /** A default, an identity "by default" or a serial: the insert may leave it out. */
  hasDefault: boolean;
  /** A generated column or an identity "always": never written. */
  generatedAlways: boolean;
}

export interface Catalog {
  /** Tables of schema public in the order they were created, columns in table order. */
  tables: Array<{ name: string; columns: CatalogColumn[] }>;
  enums: Array<{ name: string; values: string[] }>;
}

/** Read the tables, columns and enums of schema `public`. */
export async function readCatalog(db: Kysely<any>): Promise<Catalog> {
  const { rows: types } = await sql<{ oid: string; name: string; kind: string; category: string; element: string; base: string }>`
    select oid::text as oid, typname as name, typtype::text as kind, typcategory::text as category,
           typelem::text as element, typbasetype::text as base
    from pg_type`.execute(db);
  const byOid = new Map(types.map((t) => [t.oid, t]));
  // A domain is typed as its base type; an array as "_" + its element's (resolved) name.
  const resolve = (oid: string): string => {
    const type = byOid.get(oid);
    if (!type) return "unknown";
    if (type.kind === "d") return resolve(type.base);
    if (type.category === "A" && type.element !== "0") return `_${resolve(type.element)}`;
    return type.name;
  };

  const { rows: columns } = await sql<{ table: string; name: string; type: string; not_null: boolean; has_default: boolean; identity: string; generated: string }>`
    select c.relname as table, a.attname as name, a.atttypid::text as type, a.attnotnull as not_null,
           a.atthasdef as has_default, a.attidentity::text as identity, a.attgenerated::text as generated
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname not in (${sql.join(MIGRATOR_TABLES)})
    order by c.oid, a.attnum`.execute(db);
  const tables: Catalog["tables"] = [];
  for (const row of columns) {
    if (tables.at(-1)?.name !== row.table) tables.push({ name: row.table, columns: [] });
    const generatedAlways = row.generated !== "" || row.identity === "a";
    tables.at(-1)!.columns.push({
      name: row.name,
      type: resolve(row.type),
      notNull: row.not_null,
      hasDefault: !generatedAlways && (row.has_default || row.identity === "d"),
      generatedAlways,
    });
  }

  const { rows: labels } = await sql<{ name: string; label: string }>`
    select t.typname as name, e.enumlabel as label
    from pg_enum e join pg_type t on t.oid = e.enumtypid join pg_namespace n on n.oid = t.typnamespace
    where n.nspname = 'public'
    order by t.typname, e.enumsortorder`.execute(db);
  const enums: Catalog["enums"] = [];
  for (const { name, label } of labels) {
    if (enums.at(-1)?.name !== name) enums.push({ name, values: [] });
    enums.at(-1)!.values.push(label);
  }
  return { tables, enums };
}

/** What a value of a PostgreSQL type is in JavaScript, as read and as written; anything else arrives as text. */
const SCALARS: Record<string, { read: string; write: string }> = {
  bool: { read: "boolean", write: "boolean" },
  int2: { read: "number", write: "number" },
  int4: { read: "number", write: "number" },
  oid: { read: "number", write: "number" },
  float4: { read: "number", write: "number" },
  float8: { read: "number", write: "number" },
  // int8 and numeric are not in this table: both backends return them as strings (db/open.ts), so no digit is lost.
  date: { read: "Date", write: "Date | string" },
  timestamp: { read: "Date", write: "Date | string" },
  timestamptz: { read: "Date", write: "Date | string" },
  bytea: { read: "Uint8Array", write: "Uint8Array" },
  json: { read: "unknown", write: "unknown" },
  jsonb: { read: "unknown", write: "unknown" },
};

/** Helper types the file declares when a column needs one, by the ColumnType they stand for. */
const HELPERS: Array<[name: string, type: string]> = [
  ["CreatedAt", "ColumnType<Date, Date | string | undefined, never>"],
  ["Timestamp", "ColumnType<Date, Date | string, Date | string>"],
  ["NullableTimestamp", "ColumnType<Date | null, Date | string | null | undefined, Date | string | null>"],
];

const HEADER = `// Kysely's view of Endpoint's tables, generated from db/migrations by \`bun run cli db types\`: do not edit by hand.
// Column names are used as they are (snake_case) everywhere above db/, so one grep finds the column, its type and
// every query that touches it. Doc lines, insert-only columns and JSON shapes come from SCHEMA_NOTES in
// db/introspect.ts; \`bun run cli migrate check\` fails when this file no longer matches the migrations.`;

const pascal = (name: string) => name.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
/** users → User, api_tokens → ApiToken, addresses → Address, categories → Category; status and login_throttle stay. */
const singular = (name: string) => name.replace(/ies$/, "y").replace(/(ss|x|ch|sh)es$/, "$1").replace(/([^siu])s$/, "$1");
const key = (name: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name));

/** The TypeScript of db/schema.ts for a catalog: the same catalog and notes always give the same bytes. */
export function renderSchema(catalog: Catalog, notes: Record<string, Record<string, ColumnNote>> = SCHEMA_NOTES): string {
  for (const [table, columns] of Object.entries(notes))
    for (const column of Object.keys(columns))
      if (!catalog.tables.some((t) => t.name === table && t.columns.some((c) => c.name === column)))
        throw new SchemaTypesError(`SCHEMA_NOTES in db/introspect.ts has a note on ${table}.${column}, which the migrations do not create`);

  const enumNames = new Map(catalog.enums.map((e) => [e.name, pascal(e.name)]));
  const rowNames = catalog.tables.map((t) => pascal(singular(t.name)));
  const declared = [...enumNames.values(), ...rowNames.flatMap((n) => [`${n}Table`, n, `New${n}`, `${n}Update`]), "Database", ...HELPERS.map(([h]) => h)];
  const clash = declared.find((name, i) => declared.indexOf(name) !== i);
  if (clash) throw new SchemaTypesError(`two database objects would both be named ${clash} in db/schema.ts; rename one in a migration`);

  const kysely = new Set(catalog.tables.length ? ["Insertable", "Selectable", "Updateable"] : []);
  const helpers = new Set<string>();
  const tsOf = (type: string): { read: string; write: string } => {
    if (type.startsWith("_")) {
      const element = tsOf(type.slice(1));
      const list = (t: string) => (t.includes(" ") ? `Array<${t}>` : `${t}[]`);
      return { read: list(element.read), write: list(element.write) };
    }
    const name = enumNames.get(type);
    return name ? { read: name, write: name } : (SCALARS[type] ?? { read: "string", write: "string" });
  };
  const columnType = (table: string, column: CatalogColumn, note: ColumnNote | undefined): string => {
    let { read, write } = tsOf(column.type);
    if (note?.json) {
      if (column.type !== "json" && column.type !== "jsonb")
        throw new SchemaTypesError(`SCHEMA_NOTES in db/introspect.ts gives ${table}.${column.name} a JSON shape, but it is ${column.type}, not jsonb`);
      read = note.json;
      write = `string | ${note.json}`; // JSON text or the value itself: both backends store either as the same value
    }
    const nullable = !column.notNull;
    const orNull = (type: string) => (nullable && type !== "unknown" ? `${type} | null` : type);
    const select = orNull(read);
    const insert = orNull(write);
    if (column.generatedAlways) {
      kysely.add("GeneratedAlways");
      return `GeneratedAlways<${select}>`;
    }
    const update = note?.insertOnly ? "never" : insert;
    const optional = column.hasDefault || nullable;
    if (insert === select && update === select && (!optional || nullable)) return select; // a nullable column may be left out anyway
    if (insert === select && update === select) {
      kysely.add("Generated");
      return `Generated<${select}>`;
    }
    const type = `ColumnType<${select}, ${optional ? `${insert} | undefined` : insert}, ${update}>`;
    kysely.add("ColumnType"); // a helper is declared with it too
    const helper = HELPERS.find(([, definition]) => definition === type)?.[0];
    if (!helper) return type;
    helpers.add(helper);
    return helper;
  };

  const interfaces = catalog.tables.map((table, i) => {
    const lines = [`export interface ${rowNames[i]}Table {`];
    for (const column of table.columns) {
      const note = notes[table.name]?.[column.name];
      if (note?.doc) lines.push(`  /** ${note.doc.replaceAll("*/", "*\\/")} */`);
      lines.push(`  ${key(column.name)}: ${columnType(table.name, column, note)};`);
    }
    return [...lines, "}", ""].join("\n");
  });

  const out = [HEADER];
  if (kysely.size) out.push(`import type { ${[...kysely].sort().join(", ")} } from "kysely";`);
  out.push("");
  const usedHelpers = HELPERS.filter(([name]) => helpers.has(name));
  for (const [name, definition] of usedHelpers) out.push(`type ${name} = ${definition};`);
  if (usedHelpers.length) out.push("");
  for (const { name, values } of catalog.enums) out.push(`export type ${enumNames.get(name)} = ${values.map((v) => JSON.stringify(v)).join(" | ")};`);
  if (catalog.enums.length) out.push("");
  out.push(...interfaces);
  out.push("export interface Database {", ...catalog.tables.map((t, i) => `  ${key(t.name)}: ${rowNames[i]}Table;`), "}", "");
  for (const name of rowNames)
    out.push(`export type ${name} = Selectable<${name}Table>;`, `export type New${name} = Insertable<${name}Table>;`, `export type ${name}Update = Updateable<${name}Table>;`);
  return `${out.join("\n")}\n`;
}

/** Migrate a fresh embedded database in a temporary folder to the latest migration and render its schema. */
export async function schemaFromMigrations(folder = MIGRATIONS_DIR): Promise<{ text: string; tables: number }> {
  const root = mkdtempSync(path.join(tmpdir(), "endpoint-db-types-"));
  try {
    const handle = await openDatabase(`pglite:${path.join(root, "db")}`, { create: true });
    try {
      await migrateToLatest(handle.db, folder);
      const catalog = await readCatalog(handle.db);
      return { text: renderSchema(catalog), tables: catalog.tables.length };
    } finally {
      await handle.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
