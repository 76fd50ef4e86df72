// Dependency floors: the oldest versions with the fixes Endpoint relies on (SECURITY.md, I12). Bun 1.4.5 refuses
// smuggled requests (TE+CL, conflicting Content-Lengths, TE lists, TE on HTTP/1.0); elysia 1.4.27 closes the cookie
// prototype pollution; yaml 2.9.0 the nesting and lexer stack overflows (CVE-2026-33532); postgres 3.4.9 is the
// version whose behaviour SECURITY.md describes. The installed versions are checked, not the pins: an install that
// ignored the lockfile is caught too. .ci/run checks Bun's version before it runs anything else.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/cli.ts";

const FLOORS: Record<string, string> = { bun: "1.4.5", elysia: "1.4.27", yaml: "2.9.0", postgres: "3.4.9" };

/** Whether `version` is older than `floor` (a prerelease of the floor counts as older). */
function belowFloor(version: string, floor: string): boolean {
  return !Bun.semver.satisfies(version, `>=${floor}`);
}

/** One line per package missing or older than its floor. */
function floorViolations(installed: Record<string, string | undefined>, floors: Record<string, string>): string[] {
  return Object.entries(floors).flatMap(([name, floor]) => {
    const version = installed[name];
    if (version === undefined) return [`${name} is not installed (at least ${floor} is needed)`];
    return belowFloor(version, floor) ? [`${name} ${version} is older than the floor ${floor}`] : [];
  });
}

const packageJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as { version?: string; engines?: Record<string, string> };
function installedVersions(): Record<string, string | undefined> {
  const versions: Record<string, string | undefined> = { bun: Bun.version };
  for (const name of Object.keys(FLOORS).filter((n) => n !== "bun")) {
    const file = join(ROOT, "node_modules", name, "package.json");
    versions[name] = existsSync(file) ? packageJson(file).version : undefined;
  }
  return versions;
}

describe("dependency floors", () => {
  test("every installed version, Bun's included, is at or above its floor", () => {
    expect(floorViolations(installedVersions(), FLOORS)).toEqual([]);
  });

  test("package.json's engines.bun asks for at least the Bun floor", () => {
    const engines = packageJson(join(ROOT, "package.json")).engines;
    expect(engines?.bun).toBe(`>=${FLOORS.bun}`);
  });

  test("the deprecated @elysiajs/cookie is not installed (Elysia's own cookies replace it)", () => {
    expect(existsSync(join(ROOT, "node_modules", "@elysiajs", "cookie"))).toBe(false);
  });

  test("the comparison catches a version below its floor, numerically and with prereleases", () => {
    const cases: Array<[version: string, floor: string, below: boolean]> = [
      ["1.4.26", "1.4.27", true],
      ["1.4.27", "1.4.27", false],
      ["1.4.30", "1.4.27", false],
      ["1.10.0", "1.9.0", false], // numbers, not text
      ["1.4.5-canary.1", "1.4.5", true],
      ["2.8.4", "2.9.0", true],
      ["3.4.8", "3.4.9", true],
    ];
    for (const [version, floor, below] of cases) expect({ version, floor, below: belowFloor(version, floor) }).toEqual({ version, floor, below });
    expect(floorViolations({ bun: "1.4.4", elysia: "1.4.30", yaml: "2.8.3", postgres: undefined }, FLOORS)).toEqual([
      "bun 1.4.4 is older than the floor 1.4.5",
      "yaml 2.8.3 is older than the floor 2.9.0",
      "postgres is not installed (at least 3.4.9 is needed)",
    ]);
  });

  test(".ci/run refuses a Bun older than engines.bun before it installs or runs anything", () => {
    const script = readFileSync(join(ROOT, ".ci", "run"), "utf8");
    const check = script.indexOf('step "Bun is at least');
    expect(check).toBeGreaterThan(-1);
    expect(check).toBeLessThan(script.indexOf("bun install"));
    // The step itself, run with a planted old and a current version of `bun --version`.
    const stepText = script.slice(check, script.indexOf("\n\n", check));
    const run = (version: string) =>
      Bun.spawnSync(["bash", "-c", `set -uo pipefail; cd ${JSON.stringify(ROOT)}; step() { :; }; bun() { echo ${version}; }; ${stepText}\necho reached`], { stderr: "pipe" });
    for (const older of ["1.4.4", "1.3.13", "1.4.5-canary.1"]) {
      const refused = run(older);
      expect(refused.exitCode).toBe(1);
      expect(refused.stdout.toString()).toContain(`Bun ${older} is older than 1.4.5`);
      expect(refused.stdout.toString()).not.toContain("reached");
    }
    for (const fine of ["1.4.5", "1.4.10", "1.5.0"]) expect(run(fine).stdout.toString()).toContain("reached");
  });
});
