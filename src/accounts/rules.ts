// What the accounts core needs to know from endpoint.yaml: which group administers Endpoint and which groups the
// config declares. Built once from the config (or the defaults when a CLI command runs without one).
import type { Config } from "../config/schema.ts";

export interface AccountRules {
  /** Members of this group administer Endpoint; at least one of them must stay active. */
  adminGroup: string;
  /** Groups endpoint.yaml declares, with their descriptions: created when missing, never deleted. */
  declaredGroups: ReadonlyMap<string, string>;
  /** Where the declared groups come from, for messages ("declared in endpoint.yaml"). */
  configFile: string;
}

export const DEFAULT_ADMIN_GROUP = "admin";
const ADMIN_GROUP_DESCRIPTION = "Administrators of this Endpoint";

/** The rules of a loaded config; without one, only the default admin group is declared. */
export function accountRules(config?: Pick<Config, "auth" | "groups" | "file">): AccountRules {
  const adminGroup = config?.auth.adminGroup ?? DEFAULT_ADMIN_GROUP;
  const declared = new Map<string, string>([[adminGroup, ADMIN_GROUP_DESCRIPTION]]);
  for (const [name, group] of Object.entries(config?.groups ?? {})) declared.set(name, group.description);
  return { adminGroup, declaredGroups: declared, configFile: config?.file ? "endpoint.yaml" : "the default configuration" };
}
