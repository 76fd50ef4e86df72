// ${VAR} and ${VAR:-default} in config strings, from the environment. `$${` writes a literal `${`.
// The result is only ever data: it is never evaluated, compiled or turned into a pattern.

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface Interpolated {
  value: string;
  /** Variables referenced with no value and no default. */
  unset: string[];
  /** Whether any ${…} was replaced (so "8000" from ${PORT} may be read as a number). */
  replaced: boolean;
}

export function interpolate(text: string, env: Record<string, string | undefined>): Interpolated {
  const unset: string[] = [];
  let replaced = false;
  const value = text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    replaced = true;
    const found = env[name!];
    if (fallback !== undefined) return found === undefined || found === "" ? fallback : found;
    if (found === undefined) {
      unset.push(name!);
      return "";
    }
    return found;
  });
  return { value, unset, replaced };
}
