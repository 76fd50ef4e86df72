// A handler's TypeBox schema (Elysia's `t`) as an OpenAPI 3.0 Schema Object. 3.0 speaks an older JSON Schema, so
// `const`, `type: "null"`, `patternProperties` and tuples are rewritten into its words, keywords it lacks are left
// out, and Elysia's coercing unions (t.Integer, t.Numeric, t.BooleanString, t.Date) are written as what travels on
// the wire: the number, the boolean, the ISO 8601 date-time string.

type Schema = Record<string, unknown>;

/** The keywords of an OpenAPI 3.0 Schema Object (`x-…` extensions are kept as well). */
const KEYWORDS = new Set([
  "title", "description", "default", "example", "deprecated", "readOnly", "writeOnly", "nullable",
  "type", "format", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
  "maxLength", "minLength", "pattern", "items", "maxItems", "minItems", "uniqueItems",
  "properties", "required", "additionalProperties", "maxProperties", "minProperties",
  "allOf", "anyOf", "oneOf", "not",
]);

/** Options of ours that describe the route rather than the value (see openapi.ts); never part of the schema. */
export const ROUTE_OPTIONS = new Set(["x-status"]);

/** Elysia's text forms of numbers and booleans in its coercing unions (`t.Integer` is integer or "12"). */
const isCoercedText = (schema: Schema) =>
  schema.type === "string" && (schema.format === "integer" || schema.format === "numeric" || schema.format === "boolean");

/** `schema` as OpenAPI 3.0 describes it. Symbols (TypeBox's Kind) are dropped with everything JSON cannot hold. */
export function toOpenApiSchema(schema: unknown): Schema {
  if (typeof schema !== "object" || schema === null) return {};
  const source = schema as Schema;
  if (Array.isArray(source.anyOf)) return fromUnion(source);
  const out: Schema = {};
  for (const [key, value] of Object.entries(source)) {
    if (ROUTE_OPTIONS.has(key)) continue;
    if (key === "const") out.enum = [value];
    else if (key === "examples" && Array.isArray(value) && value.length > 0) out.example = value[0];
    else if ((key === "exclusiveMinimum" || key === "exclusiveMaximum") && typeof value === "number") {
      // JSON Schema's numeric form; 3.0 has a bound plus a boolean.
      out[key === "exclusiveMinimum" ? "minimum" : "maximum"] = value;
      out[key] = true;
    } else if (key === "properties") out.properties = mapValues(value as Record<string, unknown>, toOpenApiSchema);
    else if (key === "patternProperties") out.additionalProperties = oneSchemaOf(Object.values(value as Record<string, unknown>));
    else if (key === "items") out.items = Array.isArray(value) ? oneSchemaOf(value) : toOpenApiSchema(value); // a tuple: 3.0 has no positions
    else if (key === "additionalProperties") {
      if (source.patternProperties === undefined) out.additionalProperties = typeof value === "object" ? toOpenApiSchema(value) : value;
    } else if (key === "allOf" || key === "oneOf") out[key] = (value as unknown[]).map(toOpenApiSchema);
    else if (key === "not") out.not = toOpenApiSchema(value);
    else if (key === "required") {
      if (Array.isArray(value) && value.length > 0) out.required = value;
    } else if (key === "type") Object.assign(out, fromType(value));
    else if (KEYWORDS.has(key) || key.startsWith("x-")) out[key] = value;
  }
  return out;
}

/** TypeBox's types that are not JSON Schema's: how a value of each is written in JSON. */
function fromType(type: unknown): Schema {
  switch (type) {
    case "Date":
      return { type: "string", format: "date-time" };
    case "Uint8Array":
      return { type: "string", format: "binary" };
    case "bigint":
      return { type: "integer" };
    case "null":
      return { nullable: true };
    case "undefined":
    case "void":
      return {};
    default:
      return { type };
  }
}

/** anyOf: null becomes `nullable`, a union of literals an `enum`, and Elysia's coercing unions their wire form. */
function fromUnion(source: Schema): Schema {
  const { anyOf, nullable, ...rest } = source;
  const outer = toOpenApiSchema(rest);
  const members = anyOf as Schema[];
  // t.Date accepts a Date, a date-time or date string and a number; the server always writes an ISO 8601 string.
  if (members.some((member) => member.type === "Date")) return { ...outer, type: "string", format: "date-time", ...(nullable ? { nullable: true } : {}) };
  let kept = members.filter((member) => member.type !== "null");
  const isNullable = nullable === true || kept.length < members.length;
  if (kept.some((member) => !isCoercedText(member))) kept = kept.filter((member) => !isCoercedText(member));
  const converted = kept.map(toOpenApiSchema);
  let result: Schema;
  if (converted.length === 1) result = { ...outer, ...converted[0] };
  else if (converted.length > 1 && converted.every((member) => Array.isArray(member.enum) && member.type === converted[0]!.type))
    result = { ...outer, type: converted[0]!.type, enum: converted.flatMap((member) => member.enum as unknown[]) };
  else result = { ...outer, anyOf: converted };
  if (isNullable) {
    // 3.0's nullable applies where a type stands beside it.
    if (Array.isArray(result.anyOf)) result.anyOf = (result.anyOf as Schema[]).map((member) => (member.type ? { ...member, nullable: true } : member));
    else result.nullable = true;
  }
  return result;
}

/** Several schemas where 3.0 takes one: the one, or any of them. */
function oneSchemaOf(schemas: unknown[]): Schema {
  const converted = schemas.map(toOpenApiSchema);
  return converted.length === 1 ? converted[0]! : { anyOf: converted };
}

function mapValues<T, U>(record: Record<string, T>, map: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}
