// dev-server's reload on save: watch endpoint.yaml and the handler modules under routes/, and ask for one reload
// per burst of changes (editors write a file in several steps; a save of several files is one change).
import { type FSWatcher, existsSync, watch } from "node:fs";
import { basename, dirname } from "node:path";

const SETTLE_MS = 120;

/** Call `onChange` after changes settle, never two at once; returns a function that stops watching. */
export function watchSources(configFile: string, routesDir: string, onChange: () => Promise<void>): () => void {
  const watchers: FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const run = () => {
    if (running) {
      again = true;
      return;
    }
    running = onChange()
      .catch(() => {})
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(run, SETTLE_MS);
  };

  // The folder, not the file: editors often save by writing a new file and renaming it over the old one.
  const configName = basename(configFile);
  watchers.push(watch(dirname(configFile), (_event, name) => name === configName && changed()));
  if (existsSync(routesDir))
    watchers.push(watch(routesDir, { recursive: true }, (_event, name) => typeof name === "string" && /\.tsx?$/.test(name) && changed()));
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
