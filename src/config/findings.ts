// What validation reports: one finding per fault, pointing at the line and column where it is.

export interface Finding {
  file: string;
  line: number;
  col: number;
  code: FindingCode;
  message: string;
}

/** Stable codes: scripts and docs may rely on them. */
export const FINDING_CODES = {
  "file-not-found": "the config file cannot be read",
  "yaml-syntax": "the file is not valid YAML",
  "duplicate-key": "a key appears twice in one mapping",
  "unknown-key": "a key endpoint.yaml does not know (often a typo)",
  "missing-key": "a required key is absent",
  "wrong-type": "a value of the wrong type (text for a number, a list for a mapping…)",
  "bad-value": "a value of the right type that breaks a rule (range, pattern, choices)",
  "unset-variable": "${VAR} with no value in the environment and no default",
  "bad-path": "a route path that is not /segment/:param/…",
  "reserved-path": "a route path under one of Endpoint's own prefixes",
  "duplicate-route-name": "two routes with the same name",
  "duplicate-route": "two routes with the same method and path (parameter names aside)",
  "unknown-handler-module": "a handler whose module is not a file under routes/",
  "handler-module-failed": "a handler module that fails to load",
  "unknown-handler-export": "a handler module without the named export",
  "not-a-handler": "an export that was not made with defineHandler",
  "unknown-group": "a route names a group that `groups:` does not declare",
  "no-access-rule": "a route with neither `public: true` nor `groups` (deny by default)",
  "conflicting-access-rule": "a route that is both public and limited to groups",
  "public-route-needs-caller": "a public route whose handler says signedIn: true (it would be called with no caller)",
  "group-not-in-database": "a route names a group the database lacks (validate --database only)",
} as const;

export type FindingCode = keyof typeof FINDING_CODES;

/** `endpoint.yaml:12:5: unknown key 'handlr' in route 'status'; did you mean 'handler'? [unknown-key]` */
export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}:${f.col}: ${f.message} [${f.code}]`;
}

/** Thrown by loadConfigOrThrow: every finding, for the caller to print. */
export class ConfigError extends Error {
  constructor(readonly findings: Finding[]) {
    super(findings.map(formatFinding).join("\n"));
    this.name = "ConfigError";
  }
}
