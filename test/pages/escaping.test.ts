// HTML escaping: pages escape what they show, and the CI check that enforces it does catch an unescaped child.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorPage } from "../../src/pages/error-page.tsx";
import { ROOT } from "../support/cli.ts";

describe("escaping", () => {
  test("the error page escapes its detail", () => {
    const html = ErrorPage({ status: 404, title: "Not Found", detail: "<script>alert(1)</script>", requestId: '"><img src=x>' }) as string;
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain("<img src=x>");
    expect(html).toContain("&lt;script&gt;");
  });

  test("xss-scan fails on a JSX child that is not escaped", () => {
    // The file must sit inside the project for tsconfig's JSX settings to apply.
    const dir = mkdtempSync(join(ROOT, "test", "pages", "tmp-"));
    try {
      const file = join(dir, "unsafe.tsx");
      writeFileSync(file, `/** @jsxImportSource @kitajs/html */\nexport const Unsafe = ({ name }: { name: string }) => <p>{name}</p>;\n`);
      const result = Bun.spawnSync([join(ROOT, "node_modules", ".bin", "xss-scan"), "--cwd", ROOT, "-p", join(ROOT, "tsconfig.json"), file], { stdout: "pipe", stderr: "pipe" });
      expect(result.exitCode).not.toBe(0);
      expect(result.stdout.toString() + result.stderr.toString()).toContain("K601");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
